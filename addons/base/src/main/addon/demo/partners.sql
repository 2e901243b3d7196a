-- A few contacts to try the external API on (kiln --with-demo): companies and people working there.
INSERT INTO res_partner (name, is_company, email, phone, street, city, zip, country_code, active, create_date, write_date)
VALUES
    ('Deco Addict', true, 'deco_addict@example.com', '(603)-996-3829', '77 Santa Barbara Rd', 'Pleasant Hill', '94523', 'US', true, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
    ('Azure Interior', true, 'azure.interior24@example.com', '(870)-931-0505', '4557 De Silva St', 'Fremont', '94538', 'US', true, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
    ('Gemini Furniture', true, 'gemini.furniture39@example.com', '(941)-284-4875', '317 Fairchild Dr', 'Fairfield', '94535', 'US', true, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
    ('Ready Mat', true, 'ready.mat28@example.com', '(803)-873-6126', '7500 W Linne Road', 'Tracy', '95304', 'US', true, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
    ('Wood Corner', true, 'wood.corner26@example.com', '(623)-853-7197', '1839 Arbor Way', 'Turlock', '95380', 'US', true, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC');
INSERT INTO res_partner (name, is_company, email, parent_id, city, country_code, active, create_date, write_date)
SELECT person, false, mail, (SELECT id FROM res_partner WHERE name = company AND is_company), city, 'US', true,
       now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
FROM (VALUES ('Brandon Freeman', 'brandon.freeman55@example.com', 'Azure Interior', 'Fremont'),
             ('Colleen Diaz', 'colleen.diaz83@example.com', 'Azure Interior', 'Fremont'),
             ('Nicole Ford', 'nicole.ford75@example.com', 'Azure Interior', 'Fremont'),
             ('Addison Olson', 'addison.olson28@example.com', 'Deco Addict', 'Pleasant Hill'),
             ('Douglas Fletcher', 'douglas.fletcher51@example.com', 'Deco Addict', 'Pleasant Hill'),
             ('Edwin Hansen', 'edwin.hansen58@example.com', 'Gemini Furniture', 'Fairfield'),
             ('Oscar Morgan', 'oscar.morgan11@example.com', 'Ready Mat', 'Tracy'),
             ('Billy Fox', 'billy.fox45@example.com', 'Wood Corner', 'Turlock')) AS people (person, mail, company, city);

-- Their countries, as Odoo's demo contacts have them.
UPDATE res_partner p SET country_id = c.id FROM res_country c WHERE c.code = p.country_code AND p.country_id IS NULL;
