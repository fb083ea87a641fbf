import test from 'ava';
import { Counters, labelKey } from '../../server/app/counters.ts';

// The registry's series keys: one series per set of labels, whatever the
// order they were written in, and never two label sets on one key.

test('labelKey is the JSON of the [name, value] pairs sorted by name', (t) => {
  const cases: Array<Record<string, string>> = [{}, { interface: 'eth0' }, { type: 'ack', interface: 'eth0' }, { c: '3', a: '1', b: '2' }, { 'a"b': 'x\\y', z: '\u2028é\n' }];
  for (const labels of cases) {
    const pairs = Object.keys(labels)
      .sort()
      .map((name) => [name, labels[name]]);
    t.is(labelKey(labels), JSON.stringify(pairs));
  }
});

test('labels written in another order are the same series; values that only look alike are not', (t) => {
  const c = new Counters();
  c.inc('packets_received', { interface: 'eth0', type: 'ack' });
  c.inc('packets_received', { type: 'ack', interface: 'eth0' });
  // A value holding what would separate two pairs must not pass for two labels.
  c.inc('packets_received', { interface: 'eth0","type":"ack' });
  c.inc('packets_received');
  t.is(c.get('packets_received', { interface: 'eth0', type: 'ack' }), 2);
  t.is(c.get('packets_received', { interface: 'eth0","type":"ack' }), 1);
  t.is(c.get('packets_received'), 1);
  t.is(c.total('packets_received'), 4);
  t.is(c.series().length, 3);
});
