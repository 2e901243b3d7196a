// odoo-xmlrpc (npm, pinned in package-lock.json), unmodified, against a Kiln.
// Usage: node odoo_xmlrpc.js PORT DB. Prints one line per step; the test compares them.
const Odoo = require('odoo-xmlrpc');
const xmlrpc = require('xmlrpc');
const [port, db] = [Number(process.argv[2]), process.argv[3]];
const call = (fn) => new Promise((ok, ko) => fn((error, value) => (error ? ko(error) : ok(value))));
(async () => {
  // odoo-xmlrpc has no version(): its own XML-RPC library asks common.version
  const common = xmlrpc.createClient({ host: '127.0.0.1', port, path: '/xmlrpc/2/common' });
  const version = await call((cb) => common.methodCall('version', [], cb));
  console.log('version', version.server_version, JSON.stringify(version.server_version_info));
  const odoo = new Odoo({ url: 'http://127.0.0.1', port, db, username: 'admin', password: 'admin' });
  const uid = await call((cb) => odoo.connect(cb));
  console.log('uid', uid);
  const rows = await call((cb) => odoo.execute_kw('res.users', 'search_read',
    [[[['id', '=', uid]]], { fields: ['name', 'login'] }], cb));
  console.log('search_read', JSON.stringify(rows));
  const read = await call((cb) => odoo.execute_kw('res.users', 'read', [[[uid]], { fields: ['name'] }], cb));
  console.log('read', JSON.stringify(read));
  // a contact created, written, read back, found and deleted
  const id = await call((cb) => odoo.execute_kw('res.partner', 'create', [[{ name: 'XML-RPC Contact', email: 'x@example.com' }]], cb));
  await call((cb) => odoo.execute_kw('res.partner', 'write', [[[id], { name: 'XML-RPC Contact 2' }]], cb));
  console.log('crud read', JSON.stringify(await call((cb) => odoo.execute_kw('res.partner', 'read', [[[id], ['name', 'email']]], cb)))
    .replace(String(id), 'ID'));
  const found = await call((cb) => odoo.execute_kw('res.partner', 'search', [[[['email', '=', 'x@example.com']]]], cb));
  console.log('crud search', JSON.stringify(found) === JSON.stringify([id]));
  console.log('crud unlink', await call((cb) => odoo.execute_kw('res.partner', 'unlink', [[[id]]], cb)),
    JSON.stringify(await call((cb) => odoo.execute_kw('res.partner', 'search_count', [[[['id', '=', id]]]], cb))));
  for (const [model, method] of [['res.users', 'no_such_method'], ['x.nothing', 'read'], ['res.users', '_private']]) {
    try {
      await call((cb) => odoo.execute_kw(model, method, [[[uid]]], cb));
      console.log(method, 'no fault');
    } catch (fault) {
      console.log(model, method, 'faultCode', fault.faultCode, fault.faultString);
    }
  }
  const wrong = new Odoo({ url: 'http://127.0.0.1', port, db, username: 'admin', password: 'wrong' });
  try {
    console.log('bad login', await call((cb) => wrong.connect(cb)));
  } catch (error) {
    console.log('bad login', error.message);
  }
})().catch((error) => { console.error('FAIL', error); process.exit(1); });
