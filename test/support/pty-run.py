# Runs a command with a new pseudo-terminal as its controlling terminal (stdin, stdout and stderr), as a shell in a
# terminal window would, and relays what it writes to our stdout. Lines on our stdin type into the terminal:
#   ctrl-c  the byte 0x03 (the terminal's line discipline makes it SIGINT when isig is on)
#   stty    prints "@@STTY-NOW <stty -a of the terminal>" while the command runs
#   type S  types S, a JSON string ("n\r": a key and Enter), into the terminal
#   resize COLS ROWS  sets the terminal's size, as a window resized does (the kernel sends SIGWINCH to the command)
# When the command ends: "@@EXIT <status>" and "@@STTY-AFTER <stty -a>" (the terminal's state as it was left).
# Usage: python3 pty-run.py COLS ROWS COMMAND [ARG...]
import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios

cols, rows, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
out = sys.stdout.buffer


def take_terminal():
    # After setsid (start_new_session), stdin is the slave: make it our controlling terminal, our group its foreground.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def stty():
    r = subprocess.run(['stty', '-a'], stdin=slave, capture_output=True)
    return r.stdout.replace(b'\n', b' ').strip()


child = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                         preexec_fn=take_terminal, close_fds=True)
inp = sys.stdin.buffer.raw
pending = b''


def drain(timeout):
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            return
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        out.write(data)
        out.flush()


stdin_open = True
while child.poll() is None:
    fds = [master] + ([inp] if stdin_open else [])
    ready, _, _ = select.select(fds, [], [], 0.05)
    if master in ready:
        drain(0)
    if stdin_open and inp in ready:
        data = os.read(inp.fileno(), 1024)
        if not data:
            stdin_open = False
            continue
        pending += data
        while b'\n' in pending:
            line, pending = pending.split(b'\n', 1)
            if line.strip() == b'ctrl-c':
                os.write(master, b'\x03')
            elif line.startswith(b'type '):
                os.write(master, json.loads(line[5:]).encode())
            elif line.strip().startswith(b'resize '):
                _, c, r = line.split()
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', int(r), int(c), 0, 0))
            elif line.strip() == b'stty':
                out.write(b'\n@@STTY-NOW ' + stty() + b'\n')
                out.flush()
drain(0.2)
out.write(b'\n@@EXIT %d\n@@STTY-AFTER ' % child.returncode + stty() + b'\n')
out.flush()
