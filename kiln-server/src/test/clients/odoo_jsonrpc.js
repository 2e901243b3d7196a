// @fernandoslim/odoo-jsonrpc (npm, pinned in package-lock.json), unmodified, against a Kiln: the web
// client's session routes (/web/session/authenticate, get_session_info, destroy) and call_kw.
// Usage: node odoo_jsonrpc.js PORT DB. Prints one line per step; the test compares them.
const OdooJSONRpc = require('@fernandoslim/odoo-jsonrpc').default;
const [port, db] = [Number(process.argv[2]), process.argv[3]];
const base = { baseUrl: 'http://127.0.0.1', port, db };
(async () => {
  const odoo = new OdooJSONRpc({ ...base, username: 'admin', password: 'admin' });
  const info = await odoo.connect();
  console.log('connect', info.uid, info.username, info.server_version, JSON.stringify(info.user_context));
  console.log('session', Boolean(odoo.sessionId));
  console.log('searchRead', JSON.stringify(await odoo.searchRead('res.users', [['id', '=', odoo.uId]], ['name', 'login'])));
  console.log('read', JSON.stringify(await odoo.read('res.users', [odoo.uId], ['name'])));
  // its record helpers, through call_kw
  const id = await odoo.create('res.partner', { name: 'JSON Contact', city: 'Namur' });
  console.log('create', typeof id);
  console.log('update', await odoo.update('res.partner', id, { city: 'Liège' }));
  console.log('read', JSON.stringify((await odoo.read('res.partner', [id], ['name', 'city'])).map(({ id: _, ...rest }) => rest)));
  console.log('search', JSON.stringify(await odoo.search('res.partner', [['city', '=', 'Liège']])) === JSON.stringify([id]));
  console.log('delete', await odoo.delete('res.partner', id), JSON.stringify(await odoo.search('res.partner', [['id', '=', id]])));
  try {
    await odoo.call_kw('res.users', 'no_such_method', [[odoo.uId]]);
    console.log('no error');
  } catch (error) {
    console.log('error', error.message);
  }
  // the session id alone: get_session_info with the cookie
  const again = new OdooJSONRpc({ ...base, sessionId: odoo.sessionId });
  console.log('session info', (await again.connect()).uid);
  console.log('disconnect', await odoo.disconnect());
  try {
    await new OdooJSONRpc({ ...base, sessionId: odoo.sessionId }).connect();
    console.log('destroyed session accepted');
  } catch (error) {
    console.log('destroyed session', error.message);
  }
  // the password over /jsonrpc, as with an API key: common.authenticate, then object.execute_kw
  const keyed = new OdooJSONRpc({ ...base, username: 'admin', apiKey: 'admin' });
  console.log('jsonrpc connect', JSON.stringify(await keyed.connect()));
  console.log('jsonrpc searchRead', JSON.stringify(await keyed.searchRead('res.users', [['login', '=', 'admin']], ['name'])));
  try {
    await new OdooJSONRpc({ ...base, username: 'admin', password: 'wrong' }).connect();
    console.log('bad login accepted');
  } catch (error) {
    console.log('bad login', error.message);
  }
})().catch((error) => { console.error('FAIL', error); process.exit(1); });
