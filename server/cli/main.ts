#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runServe, runLeases } from './commands.ts';
import { dbCommand } from './db-commands.ts';

/**
 * leasehold-server: the appliance process. Bad arguments print usage and
 * exit 2; runtime failures print one clear line and exit 1.
 */
const withConfig = <T>(y: Argv<T>) =>
  y
    .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'config file (YAML or JSON)' })
    .option('store', { type: 'string', describe: 'lease store path (overrides leaseStore.path)' });

await yargs(hideBin(process.argv))
  .scriptName('leasehold-server')
  .usage('$0 [serve] --config FILE\n$0 leases --config FILE [--json]\n$0 db init|upgrade|version --config FILE\n$0 db migrate-from sqlite:PATH --config FILE')
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
    'list the lease table',
    (y) => withConfig(y).option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
    async (argv) => {
      process.exitCode = await runLeases({ configPath: argv.config, storePath: argv.store, json: argv.json });
    },
  )
  .command(dbCommand(withConfig))
  .strict()
  .fail((msg, err, y) => {
    if (err) throw err;
    y.showHelp((s: string) => process.stderr.write(s + '\n'));
    process.stderr.write(`\nerror: ${msg}\n`);
    process.exit(2);
  })
  .help()
  .version(false)
  .parseAsync();
