# Kiln: `make run` builds if needed and starts the server; `make test` runs every test.
# Both find a JDK >= 25 on their own (bin/find-java).
JAVA_HOME := $(shell bin/find-java)
ifeq ($(JAVA_HOME),)
$(error no JDK 25 found; see the message above)
endif
export JAVA_HOME
MVN ?= mvn -B -ntp
SOURCES := $(shell find pom.xml kiln-api kiln-server addons bench -name target -prune -o \( -name '*.java' -o -name 'pom.xml' -o -path '*/src/main/*' \) -type f -print)

.PHONY: build run test bench aot clean docs

build: dist/lib/kiln-server.jar

dist/lib/kiln-server.jar: $(SOURCES)
	$(MVN) -q -DskipTests package
	@touch $@

# The hello addon is server-wide here so /hello answers without a database.
run: build
	bin/kiln --load=base,web,hello $(ARGS)

# dist/ first: some tests run bin/kiln itself, and Maven assembles dist/ only after the tests.
# The AOT cache too: the kiln processes the tests start boot from dist/ with it, on about a third
# less CPU. Without a cache (a failed training run) they boot all the same, only slower.
test: build
	@$(MAKE) --no-print-directory aot || echo "make test: no AOT cache; the tests start kiln without it"
	$(MVN) verify

# wrk against Kiln, a raw Jetty peer and nginx, start times with and without the AOT cache, and the
# cron runners against a pgbench ceiling (bench/cron). BENCH_TARGETS=cron make bench: cron alone.
bench: build aot
	bench/run

# The JDK 25 AOT cache bin/kiln loads: a training run of Kiln (bench/aot-train); remade after a build.
aot: dist/kiln.aot

dist/kiln.aot: dist/lib/kiln-server.jar
	bench/aot-train

docs: build
	bin/kiln --dump-options-reference > docs/options.md

clean:
	$(MVN) -q clean
	rm -rf dist
