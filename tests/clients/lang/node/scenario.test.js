'use strict';
// The client scenario of issue 12 in Node: better-sqlite3 12 and the packed eskit package,
// installed from their tarballs into a scratch project, under `node --test`. Same steps and
// values as tests/clients/lang/python/scenario.py (see its header).
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const nodePath = require('node:path');
const Database = require('better-sqlite3');
const eskit = require('eskit');

// snippet: node-core
function openStore(file) {
    const db = new Database(file, { timeout: 10000 });  // busy timeout 10 s
    eskit.load(db);
    db.pragma('journal_mode = WAL');
    return db;
}

// better-sqlite3 binds every JS number as a REAL; eskit's integer arguments (versions, seq)
// must be INTEGERs, so they are passed as BigInt.

// es_append; on `conflict` re-read the stream's version and try again.
function appendWithRetry(db, stream, expected, events, attempts = 5) {
    const append = db.prepare('SELECT es_append(?, ?, ?)').pluck();
    const current = db.prepare('SELECT coalesce(max(version), 0) FROM es_stream(?)').pluck();
    for (let attempt = 1; ; attempt++) {
        try {
            return { version: append.get(stream, BigInt(expected), JSON.stringify(events)), attempt };
        } catch (e) {
            if (eskit.code(e) !== 'conflict' || attempt === attempts) throw e;
            expected = current.get(stream);  // someone else appended first: look again
        }
    }
}

// Applies the events after the checkpoint to order_items, exactly once.
function project(db) {
    const checkpoint = db.prepare("SELECT es_checkpoint('order_items')").pluck();
    const page = db.prepare('SELECT seq, stream_id, type, data FROM es_all(?) LIMIT 500');
    const add = db.prepare('INSERT INTO order_items(order_id, items) VALUES (?, ?) ' +
        'ON CONFLICT(order_id) DO UPDATE SET items = items + excluded.items');
    const cas = db.prepare("SELECT es_checkpoint('order_items', ?, ?)");
    return db.transaction(() => {
        const pos = checkpoint.get();
        const rows = page.all(BigInt(pos));
        for (const e of rows) {
            if (e.type === 'ItemAdded') add.run(e.stream_id, JSON.parse(e.data).qty);
        }
        if (rows.length) cas.get(BigInt(pos), BigInt(rows[rows.length - 1].seq));  // CAS
        return rows.length;
    }).immediate();
}

// Blocks until an event after `after` is committed, by any process; returns the head.
function waitForEvents(db, after, timeoutMs = 10000) {
    const wait = db.prepare('SELECT es_wait(?, 1000)').pluck();
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
        const head = wait.get(BigInt(after));
        if (head > after) return head;
    }
    throw new Error(`no event after ${after}`);
}
// end snippet

// The second process of step 5: node with the same node_modules, appending to the same file.
const WRITER = `
const Database = require('better-sqlite3');
const eskit = require('eskit');
setTimeout(() => {
    const db = eskit.load(new Database(process.argv[1], { timeout: 10000 }));
    console.log(db.prepare("SELECT es_append('order-2', 0, ?)").pluck().get(process.argv[2]));
}, 200);
`;

const ev = (type, data = {}) => ({ type, data });

test('the eskit package', () => {
    assert.ok(fs.existsSync(eskit.path()), eskit.path());
    assert.match(eskit.path(), /node_modules\/eskit\/eskit\.so$/);
    const types = fs.readFileSync(require.resolve('eskit/index.d.ts'), 'utf8');
    for (const name of Object.keys(eskit)) {
        assert.match(types, new RegExp(`export (function|const) ${name}\\b`), `index.d.ts: ${name}`);
    }
    const db = eskit.load(new Database(':memory:'));
    assert.equal(db.prepare('SELECT es_version()').pluck().get(), eskit.version);
    db.close();
});

test('scenario', async () => {
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'eskit-node-scenario-'));
    const file = nodePath.join(dir, 'store.db');
    const db = openStore(file);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.exec('CREATE TABLE order_items(order_id TEXT PRIMARY KEY, items INTEGER NOT NULL)');

    // 1-2: append, a rival, the retry.
    assert.equal(appendWithRetry(db, 'order-1', 0, [ev('OrderPlaced', { total: 2500 }),
        ev('ItemAdded', { sku: 'A-1', qty: 2 })]).version, 2);
    const rival = openStore(file);
    assert.equal(rival.prepare("SELECT es_append('order-1', 2, ?)").pluck()
        .get(JSON.stringify(ev('ItemAdded', { sku: 'B-7', qty: 1 }))), 3);
    rival.close();
    assert.throws(() => db.prepare("SELECT es_append('order-1', 2, ?)").get(
        JSON.stringify(ev('OrderPaid'))), (e) => eskit.code(e) === 'conflict');
    assert.deepEqual(appendWithRetry(db, 'order-1', 2, [ev('OrderPaid', { amount: 2500 })]),
        { version: 4, attempt: 2 });

    // 3: read the stream.
    assert.deepEqual(db.prepare("SELECT version, type, json_extract(data, '$.qty') AS qty " +
        "FROM es_stream('order-1')").all(), [
        { version: 1, type: 'OrderPlaced', qty: null }, { version: 2, type: 'ItemAdded', qty: 2 },
        { version: 3, type: 'ItemAdded', qty: 1 }, { version: 4, type: 'OrderPaid', qty: null }]);

    // 4: the projection, exactly once.
    const items = db.prepare('SELECT order_id, items FROM order_items ORDER BY order_id').raw();
    const checkpoint = db.prepare("SELECT es_checkpoint('order_items')").pluck();
    assert.equal(project(db), 4);
    assert.equal(project(db), 0);
    assert.deepEqual(items.all(), [['order-1', 3]]);
    assert.equal(checkpoint.get(), 4);
    db.exec('BEGIN IMMEDIATE');
    db.exec('UPDATE order_items SET items = 99');
    assert.throws(() => db.prepare("SELECT es_checkpoint('order_items', 0, 4)").get(),
        (e) => eskit.code(e) === 'conflict');
    db.exec('ROLLBACK');
    assert.deepEqual(items.all(), [['order-1', 3]]);

    // 5: a second process appends while we wait.
    const head = db.prepare('SELECT es_head()').pluck().get();
    assert.equal(head, 4);
    const writer = spawn(process.execPath, ['-e', WRITER, file, JSON.stringify(
        [ev('OrderPlaced', { total: 900 }), ev('ItemAdded', { sku: 'C-3', qty: 5 })])],
    { cwd: __dirname, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    writer.stdout.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => writer.on('close', resolve));
    assert.equal(waitForEvents(db, head), 6);
    assert.equal(await exited, 0);
    assert.equal(out.trim(), '2');
    assert.equal(project(db), 2);
    assert.deepEqual(items.all(), [['order-1', 3], ['order-2', 5]]);
    assert.equal(checkpoint.get(), 6);
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
});
