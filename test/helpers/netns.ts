// Several hosts on one machine, for the multi-host e2e tests: each "host" is a
// network namespace on a private bridge (addresses used only inside), with
// its own hostname (UTS namespace: Open MPI's shared-memory segment names
// carry the hostname, two ranks on "different" hosts with one name collide)
// and its own mount namespace where the host's own copy of the packed stack
// is bind-mounted at the same path on every host, plus an /etc/hosts naming
// all of them. A holder process (sleep infinity) keeps the namespaces; commands
// enter them with nsenter. `teardown()` removes everything (processes,
// namespaces, veths, bridge), and runs at exit too.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Host {
  name: string;
  ip: string;
  netns: string;
  holder: number;
  copy: string;
  /** where this host sees its copy of the stack (the cluster's stackPath, or its own with `paths`) */
  path: string;
}

export interface ClusterOptions {
  /** host names in /etc/hosts in the subnet with no host behind them */
  unreachable?: string[];
  /**
   * Each host's own path for its copy (a cluster whose nodes mount the stack at
   * different places); in each host the other hosts' paths are empty tmpfs, so a
   * host can only run what sits at its own path.
   */
  paths?: Record<string, string>;
  /** the login PATH the rsh agent gives (like ~/.bashrc on each node) starts with the host's <path>/bin */
  loginPath?: boolean;
}
export interface Cluster {
  hosts: Host[];
  subnet: string;
  /** every host's interface on the bridge */
  iface: string;
  /** the path where every host sees its copy of the stack */
  stackPath: string;
  /** the rsh agent for mpirun (--mca plm_rsh_agent): runs the command on HOST through nsenter, like ssh would */
  agent: string;
  /** argv prefix running a command on a host: nsenter into its namespaces */
  on(host: Host, argv: string[]): string[];
  /** pids of every process in a host's network namespace except the holder */
  pids(host: Host): number[];
  teardown(): void;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * `names.length` hosts; `stackTree` (an unpacked mpistack/ directory) is copied
 * once per host under `dir` and bind-mounted at `dir/shared/mpistack` in that
 * host's mount namespace. Extra names in `unreachable` get an /etc/hosts entry
 * in the subnet but no host behind it.
 */
export function makeCluster(dir: string, names: string[], stackTree: string, opts: ClusterOptions | string[] = {}): Cluster {
  const o: ClusterOptions = Array.isArray(opts) ? { unreachable: opts } : opts;
  const unreachable = o.unreachable ?? [];
  const pathOf = (name: string) => o.paths?.[name] ?? join(dir, 'shared', 'mpistack');
  const tag = `mps${process.pid.toString(36)}`.slice(0, 8);
  const octet = 16 + (process.pid % 200);
  const subnet = `10.${octet}.77.0/24`;
  const bridge = `${tag}br`;
  const stackPath = join(dir, 'shared', 'mpistack');
  mkdirSync(stackPath, { recursive: true });
  const hostsFile = join(dir, 'hosts');
  const all = [...names, ...unreachable];
  writeFileSync(hostsFile, ['127.0.0.1 localhost', ...all.map((n, i) => `10.${octet}.77.${i < names.length ? i + 1 : 200 + i} ${n}`), ''].join('\n'));
  const hosts: Host[] = [];
  let bridgeMade = false;
  const teardown = () => {
    for (const h of hosts) {
      const pids = listPids(h.netns);
      for (const p of pids) {
        try {
          process.kill(p, 'SIGCONT');
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      spawnSync('ip', ['netns', 'del', h.netns]);
    }
    hosts.length = 0;
    if (bridgeMade) spawnSync('ip', ['link', 'del', bridge]);
    bridgeMade = false;
  };
  process.on('exit', teardown);
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      teardown();
      process.exit(1);
    });
  try {
    sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
    bridgeMade = true;
    sh('ip', ['link', 'set', bridge, 'up']);
    // every host's path exists before any host mounts (a host hides the others' paths under tmpfs)
    for (const name of names) mkdirSync(pathOf(name), { recursive: true });
    names.forEach((name, i) => {
      const netns = `${tag}-${i}`;
      const ip = `10.${octet}.77.${i + 1}`;
      const copy = join(dir, `copy-${name}`, 'mpistack');
      cpSync(stackTree, copy, { recursive: true, verbatimSymlinks: true });
      // each copy says whose it is, so a test can tell that a host reads its own
      writeFileSync(join(copy, 'share', 'host-copy'), `${name}\n`);
      const path = pathOf(name);
      const others = [...new Set(names.map(pathOf))].filter((p) => p !== path);
      sh('ip', ['netns', 'add', netns]);
      const veth = `${tag}v${i}`;
      sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      sh('ip', ['link', 'set', veth, 'master', bridge]);
      sh('ip', ['link', 'set', veth, 'up']);
      sh('ip', ['-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      // the holder: own UTS and mount namespace inside the network namespace
      const ready = join(dir, `${name}.ready`);
      const holder = join(dir, `${name}.holder.sh`);
      writeFileSync(
        holder,
        [
          'set -e',
          `hostname ${name}`,
          `mount --bind '${copy}' '${path}'`,
          ...others.map((p) => `mount -t tmpfs -o size=1m mpistack-other-host '${p}'`),
          `mount --bind '${hostsFile}' /etc/hosts`,
          `echo $$ > '${ready}'`,
          'exec sleep infinity',
        ].join('\n'),
      );
      const child = spawnSync(
        'sh',
        ['-c', `ip netns exec ${netns} unshare --uts --mount --propagation private sh '${holder}' > '${dir}/${name}.holder.log' 2>&1 & echo $!`],
        { encoding: 'utf8' },
      );
      for (let k = 0; k < 100 && !existsSync(ready); k++) spawnSync('sleep', ['0.05']);
      if (!existsSync(ready)) throw new Error(`host ${name} did not come up: ${readFileSync(join(dir, `${name}.holder.log`), 'utf8')} (${child.stderr})`);
      hosts.push({ name, ip, netns, holder: Number(readFileSync(ready, 'utf8').trim()), copy, path });
    });
  } catch (e) {
    teardown();
    throw e;
  }
  const agent = join(dir, 'nsrsh');
  // like ssh: `nsrsh HOST command...`; a host not on the bridge fails as ssh does (exit 255, naming it)
  writeFileSync(
    agent,
    [
      '#!/bin/bash',
      '# rsh agent for mpirun: runs "$@" on host $1 by entering its namespaces (ssh stand-in)',
      'host=$1; shift',
      'case "$host" in',
      ...hosts.map((h) => `  ${h.name}|${h.ip}) pid=${h.holder}; login=${o.loginPath ? `'${h.path}/bin:'` : "''"} ;;`),
      '  *) ip=$(awk -v h="$host" \'$2 == h { print $1 }\' /etc/hosts)',
      '     # try the host over the network first, as ssh would: refused = there, no answer = unreachable',
      '     if out=$(timeout 3 bash -c "exec 3<>/dev/tcp/${ip:-$host}/22" 2>&1) || [[ $out == *refused* ]]; then',
      '       echo "nsrsh: $host answers but is not a host of this test cluster" >&2; exit 255',
      '     fi',
      '     echo "nsrsh: connect to host $host port 22: No route to host" >&2; exit 255 ;;',
      'esac',
      // like sshd: a login environment, not mpirun's
      'exec nsenter -t "$pid" -a env -i PATH=${login}/usr/local/bin:/usr/bin:/bin HOME=/root OMPI_MCA_btl_vader_single_copy_mechanism=none /bin/sh -c "$*"',
      '',
    ].join('\n'),
  );
  chmodSync(agent, 0o755);
  return {
    hosts,
    subnet,
    iface: 'eth0',
    stackPath,
    agent,
    teardown,
    on: (h, argv) => ['nsenter', '-t', String(h.holder), '-a', ...argv],
    pids: (h) => listPids(h.netns).filter((p) => p !== h.holder),
  };
}

/**
 * mpirun options for a job on the cluster: daemons started through the rsh
 * agent, ranks talking TCP over the bridge. Interfaces by name (each host's
 * veth end is eth0): Open MPI 1.6's oob_tcp_if_include takes no CIDR subnet.
 */
export function tcpMca(c: Cluster): string[] {
  return ['--mca', 'plm_rsh_agent', c.agent, '--mca', 'btl', 'tcp,self', '--mca', 'btl_tcp_if_include', c.iface, '--mca', 'oob_tcp_if_include', c.iface];
}

function listPids(netns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean).map(Number) : [];
}
