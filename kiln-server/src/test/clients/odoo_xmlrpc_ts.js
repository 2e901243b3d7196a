// odoo-xmlrpc-ts (npm, pinned in package-lock.json), unmodified, against a Kiln.
// Usage: node odoo_xmlrpc_ts.js PORT DB. Prints one line per step; the test compares them.
const { OdooClient, OdooAuthenticationError } = require('odoo-xmlrpc-ts');
const [port, db] = [Number(process.argv[2]), process.argv[3]];
(async () => {
  const url = `http://127.0.0.1:${port}`;
  const client = new OdooClient({ url, db, username: 'admin', password: 'admin' });
  const version = await client.version();
  console.log('version', version.server_version, JSON.stringify(version.server_version_info), version.server_serie);
  const uid = await client.authenticate();
  console.log('uid', uid);
  console.log('searchRead', JSON.stringify(await client.searchRead('res.users', [['id', '=', uid]], { fields: ['name', 'login'] })));
  console.log('read', JSON.stringify(await client.read('res.users', [uid], ['name'])));
  // CRUD on a model, as the package's README shows it
  const id = await client.create('res.partner', { name: 'XmlrpcTs Partner', email: 'ts@example.com' });
  console.log('create', typeof id);
  console.log('write', await client.write('res.partner', [id], { name: 'XmlrpcTs Renamed' }));
  console.log('search', JSON.stringify(await client.search('res.partner', [['email', '=', 'ts@example.com']])) === JSON.stringify([id]),
    await client.searchCount('res.partner', [['name', '=', 'XmlrpcTs Renamed']]));
  console.log('fieldsGet', JSON.stringify((await client.fieldsGet('res.partner', ['type']))['country_id']));
  console.log('unlink', await client.unlink('res.partner', [id]), JSON.stringify(await client.read('res.partner', [id], ['name'])));
  try {
    await client.execute('res.users', 'no_such_method', [[uid]]);
    console.log('no fault');
  } catch (error) {
    console.log('fault', error.name, error.message);
  }
  try {
    await new OdooClient({ url, db, username: 'admin', password: 'wrong' }).authenticate();
    console.log('bad login accepted');
  } catch (error) {
    console.log('bad login', error instanceof OdooAuthenticationError, error.message);
  }
})().catch((error) => { console.error('FAIL', error); process.exit(1); });
