#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { formatReservations, formatStatistics, runControl, runLeases, runServe, type ClientOptions } from './commands.ts';
import { dbCommand } from './db-commands.ts';

/**
 * leasehold-server: the appliance process. Bad arguments print usage and
 * exit 2; runtime failures print one clear line and exit 1.
 */
const withConfig = <T>(y: Argv<T>) =>
  y
    .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'config file (YAML or JSON)' })
    .option('store', { type: 'string', describe: 'lease store path (overrides leaseStore.path)' });

/** The commands that talk to a running server: where (its config, or the socket itself) and how to print. */
const asClient = <T>(y: Argv<T>) =>
  withConfig(y)
    .option('socket', { type: 'string', describe: 'control socket (default: control.socket of the config, or control.sock beside the lease store)' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON' });

const clientOptions = (argv: { config: string; store?: string; socket?: string; json: boolean }): ClientOptions => ({
  configPath: argv.config,
  storePath: argv.store,
  socket: argv.socket,
  json: argv.json,
});

await yargs(hideBin(process.argv))
  .scriptName('leasehold-server')
  .usage(
    '$0 [serve] --config FILE\n' +
      '$0 leases --config FILE [--json]\n' +
      '$0 lease del IP --config FILE\n' +
      '$0 reservation add|del|list --config FILE …\n' +
      '$0 stats|reload --config FILE [--json]\n' +
      '$0 db init|upgrade|version --config FILE\n' +
      '$0 db migrate-from sqlite:PATH --config FILE',
  )
  .command(
    ['serve', '$0'],
    'run the DHCPv4 server in the foreground',
    (y) =>
      withConfig(y)
        .option('check', { type: 'boolean', default: false, describe: 'validate the config and exit' })
        .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, describe: 'override log.level' })
        .option('port', { type: 'number', default: 67, hidden: true, describe: 'UDP server port (tests)' }),
    async (argv) => {
      process.exitCode = await runServe({
        configPath: argv.config,
        storePath: argv.store,
        check: argv.check,
        logLevel: argv['log-level'],
        port: argv.port,
      });
    },
  )
  .command(
    'leases',
    'list the lease table (from the running server, else from the store)',
    (y) => asClient(y),
    async (argv) => {
      process.exitCode = await runLeases(clientOptions(argv));
    },
  )
  .command('lease', 'change a lease of the running server', (y) =>
    y
      .command(
        'del <ip>',
        'delete a lease; its DNS names are withdrawn',
        (d) => asClient(d).positional('ip', { type: 'string', demandOption: true, describe: 'the leased IPv4 address' }),
        async (argv) => {
          process.exitCode = await runControl(clientOptions(argv), 'lease4-del', { 'ip-address': argv.ip });
        },
      )
      .demandCommand(1, 'name the action: del'),
  )
  .command('reservation', 'reservations of the running server (kept in the lease store)', (y) =>
    y
      .command(
        'add',
        'reserve an address for a client',
        (d) =>
          asClient(d)
            .option('subnet', { type: 'string', demandOption: true, describe: 'subnet id' })
            .option('ip', { type: 'string', demandOption: true, describe: 'the address' })
            .option('hw-address', { type: 'string', describe: 'the client by its MAC' })
            .option('client-id', { type: 'string', describe: 'the client by its client identifier (option 61, hex)' })
            .option('hostname', { type: 'string', describe: 'host name given to the client (option 12)' })
            .conflicts('hw-address', 'client-id')
            .check((a) => (a['hw-address'] !== undefined || a['client-id'] !== undefined ? true : 'give --hw-address or --client-id')),
        async (argv) => {
          const reservation = {
            'subnet-id': argv.subnet,
            'ip-address': argv.ip,
            ...(argv['hw-address'] !== undefined && { 'hw-address': argv['hw-address'] }),
            ...(argv['client-id'] !== undefined && { 'client-id': argv['client-id'] }),
            ...(argv.hostname !== undefined && { hostname: argv.hostname }),
          };
          process.exitCode = await runControl(clientOptions(argv), 'reservation-add', { reservation });
        },
      )
      .command(
        'del',
        'withdraw a reservation made through the API',
        (d) => asClient(d).option('subnet', { type: 'string', demandOption: true }).option('ip', { type: 'string', demandOption: true }),
        async (argv) => {
          process.exitCode = await runControl(clientOptions(argv), 'reservation-del', { 'subnet-id': argv.subnet, 'ip-address': argv.ip });
        },
      )
      .command(
        'list',
        'the reservations of a subnet: the config file\'s and the API\'s',
        (d) => asClient(d).option('subnet', { type: 'string', demandOption: true, describe: 'subnet id' }),
        async (argv) => {
          process.exitCode = await runControl(clientOptions(argv), 'reservation-get-all', { 'subnet-id': argv.subnet }, (answer) =>
            formatReservations((answer.arguments as { hosts: Array<Record<string, unknown>> }).hosts),
          );
        },
      )
      .demandCommand(1, 'name the action: add, del or list'),
  )
  .command('stats', 'the running server\'s statistics, by Kea\'s names', (y) => asClient(y), async (argv) => {
    process.exitCode = await runControl(clientOptions(argv), 'statistic-get-all', undefined, (answer) =>
      formatStatistics(answer.arguments as Record<string, Array<[number, string]>>),
    );
  })
  .command('reload', 'reload the configuration file (as SIGHUP does): validated first, the running one kept if it is not', (y) => asClient(y), async (argv) => {
    process.exitCode = await runControl(clientOptions(argv), 'config-reload');
  })
  .command(dbCommand(withConfig))
  .strict()
  .fail((msg, err, y) => {
    // yargs hands a .check() that returns a message over as `err` too (the
    // string itself): that is a usage error like the others. A thrown Error
    // (a handler's failure) is not.
    if (err instanceof Error && err.name !== 'YError') throw err;
    y.showHelp((s: string) => process.stderr.write(s + '\n'));
    process.stderr.write(`\nerror: ${msg}\n`);
    process.exit(2);
  })
  .help()
  .version(false)
  .parseAsync();
