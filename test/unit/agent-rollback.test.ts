// The undo list of one command (agent/core/rollback.ts): last made, first
// undone; a step that made nothing leaves nothing to undo; a failing undo
// does not stop the others; settleAll lets a step running alongside a
// look-up finish (and leave its undo) before anyone rolls back.
import test from 'ava';
import { Rollback, settleAll } from '../../agent/core/rollback.ts';

test('undo runs the kept undos last first, skips steps that made nothing, and empties the list', async (t) => {
  const done: string[] = [];
  const rollback = new Rollback();
  await rollback.step('a', async () => () => Promise.resolve(done.push('undo a')));
  await rollback.step('found as wanted', async () => undefined);
  await rollback.step('b', async () => () => Promise.resolve(done.push('undo b')));
  t.deepEqual(rollback.made, ['a', 'b']);
  t.deepEqual(await rollback.undo(), []);
  t.deepEqual(done, ['undo b', 'undo a']);
  t.deepEqual(await rollback.undo(), [], 'nothing twice');
  t.deepEqual(done, ['undo b', 'undo a']);
});

test('a step that fails keeps no undo; a failing undo is reported and the rest still run', async (t) => {
  const done: string[] = [];
  const rollback = new Rollback();
  await rollback.step('a', async () => () => Promise.resolve(done.push('undo a')));
  await rollback.step('b', async () => () => Promise.reject(new Error('b stuck')));
  await t.throwsAsync(rollback.step('c', async () => {
    throw new Error('c failed');
  }), { message: 'c failed' });
  t.deepEqual(rollback.made, ['a', 'b']);
  const failures = await rollback.undo();
  t.deepEqual(failures.map((f) => [f.step, (f.error as Error).message]), [['b', 'b stuck']]);
  t.deepEqual(done, ['undo a']);
});

test('settleAll: values in order; on failure, throws the first only after every promise has settled', async (t) => {
  t.deepEqual(await settleAll(Promise.resolve(1), Promise.resolve('x')), [1, 'x']);
  const rollback = new Rollback();
  let slowDone = false;
  const slow = rollback.step('slow', async () => {
    await new Promise((r) => setTimeout(r, 30));
    slowDone = true;
    return async () => undefined;
  });
  await t.throwsAsync(settleAll(Promise.reject(new Error('first')), slow, Promise.reject(new Error('second'))), { message: 'first' });
  t.true(slowDone, 'the step alongside had finished');
  t.deepEqual(rollback.made, ['slow'], 'and left its undo for the rollback');
});
