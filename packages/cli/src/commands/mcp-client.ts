// vm mcp tools|call: the external MCP servers of the node's config (interop.mcpServers), called from the CLI through
// the same gateway as agents' calls: Cedar policy (as the local operator) and a `tool` receipt for every call.
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit.ts';
import { dataDir, keyOptions, withData } from '../context.ts';
import { print, printJson } from '../output.ts';
import { localPrincipal } from './mcp.ts';

interface Opts {
  data?: string;
  config?: string;
  json?: boolean;
}

async function withGateway<T>(
  o: Opts,
  fn: (call: (tool: string, args: Record<string, unknown>) => Promise<Record<string, unknown>>) => Promise<T>,
): Promise<T> {
  const { createControlPlane, createInterop, loadConfig, openNode } = await import('@vaultmesh/node');
  const cfg = loadConfig({ env: process.env, configFile: o.config });
  if (cfg.interop.mcpServers.length === 0)
    throw new CliError(
      EXIT.USAGE,
      'no external MCP servers: add interop.mcpServers to the node config (--config)',
    );
  const dir = dataDir(o);
  const node = await openNode(dir, keyOptions());
  try {
    const control = createControlPlane(node, cfg.control);
    const interop = createInterop(node, control, {
      dataDir: dir,
      mode: cfg.mode,
      toolTimeoutMs: cfg.interop.toolTimeoutMs,
      mcpServers: cfg.interop.mcpServers,
    });
    try {
      return await fn(async (tool, args) => {
        const r = await interop.gateway.call(tool, args, { principal: localPrincipal(), via: 'cli' });
        return { ...r.output, receipt: r.receipt };
      });
    } finally {
      await interop.close().catch(() => undefined);
      await control.close().catch(() => undefined);
    }
  } finally {
    await node.close();
  }
}

const common = (c: Command) =>
  withData(c)
    .option(
      '-c, --config <file>',
      'node config with interop.mcpServers (env VM_CONFIG)',
      process.env.VM_CONFIG,
    )
    .option('--json', 'machine-readable output');

/** Adds `vm mcp tools` and `vm mcp call` to the mcp command. */
export function registerMcpClientCommands(mcp: Command): void {
  common(
    mcp
      .command('tools')
      .description('list the tools of the external MCP servers in the node config (through policy, recorded)')
      .option('--server <name>', 'only this server'),
  ).action(async (o: Opts & { server?: string }) => {
    const out = await withGateway(o, (call) =>
      call('list_external_tools', o.server ? { server: o.server } : {}),
    );
    const servers = out.servers as {
      name: string;
      region: string | null;
      tools: { name: string; description: string | null }[];
      error: string | null;
    }[];
    if (o.json) printJson(out);
    else
      for (const s of servers) {
        const where = `${s.name}${s.region ? ` (${s.region})` : ''}`;
        if (s.error) {
          print(`${where}: could not list its tools: ${s.error}`);
          continue;
        }
        print(`${where}: ${s.tools.length} tool${s.tools.length === 1 ? '' : 's'}`);
        for (const t of s.tools) print(`  ${t.name}${t.description ? `  ${t.description}` : ''}`);
      }
    const failed = servers.filter((s) => s.error).map((s) => s.name);
    if (failed.length)
      throw new CliError(
        EXIT.FAILED,
        `${failed.length} of ${servers.length} server${servers.length === 1 ? '' : 's'} could not be listed: ${failed.join(', ')}`,
      );
  });
  common(
    mcp
      .command('call <server> <tool>')
      .description('call one tool of an external MCP server (through policy, with its time limit, recorded)')
      .option('--args <json>', 'the tool arguments as a JSON object', '{}'),
  ).action(async (server: string, tool: string, o: Opts & { args: string }) => {
    let args: unknown;
    try {
      args = JSON.parse(o.args);
    } catch (err) {
      throw new CliError(EXIT.USAGE, `--args is not JSON: ${(err as Error).message}`);
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args))
      throw new CliError(EXIT.USAGE, '--args must be a JSON object');
    const out = await withGateway(o, (call) =>
      call('call_external_tool', { server, tool, arguments: args as Record<string, unknown> }),
    );
    if (o.json) printJson(out);
    else {
      for (const c of out.content as { type: string; text?: string }[])
        print(c.type === 'text' && c.text !== undefined ? c.text : JSON.stringify(c));
      const r = out.receipt as { index: number };
      process.stderr.write(`recorded as tool receipt #${r.index}\n`);
    }
    if (out.isError === true) throw new CliError(EXIT.FAILED, `${server}/${tool} answered with an error`);
  });
}
