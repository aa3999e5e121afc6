"""paramiko and asyncssh rows of the compatibility suite (tests/compat/compat.test.ts).

usage: clients.py paramiko|asyncssh OP PORT USER KEY
Prints one line, the row's result; the same line is expected from burrow serve and from sshd.
Run with Debian's /usr/bin/python3 (python3-paramiko, python3-asyncssh).
"""
import asyncio
import sys
import warnings

warnings.filterwarnings('ignore')

client, op, port, user, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
# per port: the burrow and the sshd row run at once in the same container
PATH = f'/tmp/bsc-{client}-{port}'


def paramiko_row():
    import paramiko
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect('127.0.0.1', port=port, username=user, key_filename=key,
              allow_agent=False, look_for_keys=False)
    try:
        if op == 'exec':
            _, out, err = c.exec_command('echo out; echo err >&2; exit 3')
            return f'code={out.channel.recv_exit_status()} out={out.read().decode().strip()} err={err.read().decode().strip()}'
        s = c.open_sftp()
        if op == 'sftp':
            with s.open(f'{PATH}.txt', 'w') as f:
                f.write('paramiko-data\n')
            with s.open(f'{PATH}.txt') as f:
                data = f.read().decode().strip()
            s.remove(f'{PATH}.txt')
            return f'data={data}'
        if op == 'symlink':
            try:
                s.remove(f'{PATH}.lnk')
            except IOError:
                pass
            s.symlink('/etc/hostname', f'{PATH}.lnk')
            target = s.readlink(f'{PATH}.lnk')
            s.remove(f'{PATH}.lnk')
            return f'readlink={target}'
    finally:
        c.close()


async def asyncssh_row():
    import asyncssh
    async with asyncssh.connect('127.0.0.1', port=port, username=user, client_keys=[key],
                                known_hosts=None, agent_path=None,
                                rekey_seconds=1 if op == 'rekey' else 3600) as c:
        if op == 'exec':
            r = await c.run('echo out; echo err >&2; exit 3', check=False)
            return f'code={r.exit_status} out={r.stdout.strip()} err={r.stderr.strip()}'
        if op == 'rekey':
            # several key re-exchanges while a session carries data both ways
            p = await c.create_process('cat')
            got = []
            for i in range(3):
                p.stdin.write(f'line{i}\n')
                got.append((await p.stdout.readline()).strip())
                await asyncio.sleep(1.1)
            p.stdin.write_eof()
            await p.wait()
            return f'echoed={",".join(got)} code={p.exit_status}'
        async with c.start_sftp_client() as s:
            if op == 'sftp':
                async with s.open(f'{PATH}.txt', 'w') as f:
                    await f.write('asyncssh-data\n')
                async with s.open(f'{PATH}.txt') as f:
                    data = (await f.read()).strip()
                await s.remove(f'{PATH}.txt')
                return f'data={data}'
            if op == 'symlink':
                if await s.lexists(f'{PATH}.lnk'):
                    await s.remove(f'{PATH}.lnk')
                await s.symlink('/etc/hostname', f'{PATH}.lnk')
                target = await s.readlink(f'{PATH}.lnk')
                await s.remove(f'{PATH}.lnk')
                return f'readlink={target}'


try:
    print(paramiko_row() if client == 'paramiko' else asyncio.run(asyncssh_row()))
except Exception as e:  # the row's result is the failure, compared like any other
    print(f'error={type(e).__name__}')
