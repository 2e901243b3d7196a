// odoo-await (npm, pinned in package-lock.json), unmodified, against a Kiln.
// Usage: node odoo_await.js PORT DB. Prints one line per step; the test compares them.
const OdooAwait = require('odoo-await');
const [port, db] = [Number(process.argv[2]), process.argv[3]];
(async () => {
  const odoo = new OdooAwait({ baseUrl: 'http://127.0.0.1', port, db, username: 'admin', password: 'admin' });
  const uid = await odoo.connect();
  console.log('uid', uid);
  // partial options: odoo-await sends offset, order and context as empty values, limit as given
  console.log('searchRead', JSON.stringify(await odoo.searchRead('res.users', [['id', '=', uid]], ['name', 'login'], { limit: 1 })));
  // its defaults: limit 0 (no limit), offset 0, order '', context {}
  console.log('searchRead defaults', JSON.stringify(await odoo.searchRead('res.users', [['id', '=', uid]], ['name'])));
  console.log('read one id', JSON.stringify(await odoo.read('res.users', uid, ['name'])));
  // its record helpers: create, update, read, search, delete
  const created = await odoo.create('res.partner', { name: 'Await Contact', phone: '555' });
  const id = Array.isArray(created) ? created[0] : created;
  console.log('create', Array.isArray(created) ? 'a list of one id' : typeof created);
  console.log('update', await odoo.update('res.partner', id, { phone: '556' }));
  console.log('read', JSON.stringify((await odoo.read('res.partner', id, ['name', 'phone'])).map(({ id: _, ...rest }) => rest)));
  console.log('search', JSON.stringify(await odoo.search('res.partner', { phone: '556' })) === JSON.stringify([id]));
  console.log('delete', await odoo.delete('res.partner', id), JSON.stringify(await odoo.search('res.partner', { phone: '556' })));
  try {
    await odoo.execute_kw('res.users', 'no_such_method', [[uid]]);
    console.log('no fault');
  } catch (fault) {
    console.log('fault', fault.message);
  }
  const wrong = new OdooAwait({ baseUrl: 'http://127.0.0.1', port, db, username: 'admin', password: 'wrong' });
  try {
    console.log('bad login', await wrong.connect());
  } catch (error) {
    console.log('bad login', String(error));
  }
})().catch((error) => { console.error('FAIL', error); process.exit(1); });
