"""Real containers for loupe's tests: podman with runc on cgroupfs (what this
kind of host needs: crun refuses hybrid cgroups, the default rlimits exceed
the host's), root file systems built from the host's own binaries and
libraries (no registry is reachable), containers run with --rootfs.
"""

import os
import shutil
import subprocess
import tempfile

CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"""


class Podman:
    def __init__(self, workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="loupe-podman-")
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "containers.conf")
        with open(conf, "w") as f:
            f.write(CONF)
        self.env = dict(os.environ, CONTAINERS_CONF=conf)
        self.names = []

    def podman(self, *args, timeout=120, check=False):
        return subprocess.run(["podman", *args], env=self.env, capture_output=True,
                              timeout=timeout, check=check)

    def rootfs(self, name, programs, trees=()):
        """A root file system with copies of programs (and every library ldd
        lists for them and for the .so files under trees), and copies of the
        directory trees: files of its own, other inodes than the host's."""
        root = os.path.join(self.dir, name)
        shutil.rmtree(root, ignore_errors=True)
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        need = set()
        for prog in programs:
            self._copy(prog, root)
            link = os.path.join(root, "bin", os.path.basename(prog))
            if os.path.dirname(prog) != "/bin" and not os.path.lexists(link):
                os.symlink(prog, link)  # /bin/NAME for every program
            need |= self._libs(prog)
        for tree in trees:
            shutil.copytree(tree, root + tree, symlinks=True, dirs_exist_ok=True)
            for top, _, files in os.walk(tree):
                for f in files:
                    if ".so" in f:
                        need |= self._libs(os.path.join(top, f))
        for lib in need:
            self._copy(lib, root)
        return root

    def clone(self, root, name):
        """A copy of a root file system: the same files, new inodes."""
        dst = os.path.join(self.dir, name)
        shutil.rmtree(dst, ignore_errors=True)
        subprocess.run(["cp", "-a", root, dst], check=True)
        return dst

    @staticmethod
    def _copy(path, root):
        dst = root + path
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            shutil.copy2(os.path.realpath(path), dst)

    @staticmethod
    def _libs(path):
        out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        libs = set()
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) > parts.index("=>") + 1:
                p = parts[parts.index("=>") + 1]
                if p.startswith("/"):
                    libs.add(p)
            elif parts and parts[0].startswith("/"):
                libs.add(parts[0])  # the dynamic loader
        return libs

    def run(self, name, root, argv, detach=False, timeout=120):
        """podman run --rm on the host's network; returns (CompletedProcess, full id)."""
        cidfile = os.path.join(self.dir, name + ".cid")
        if os.path.exists(cidfile):
            os.unlink(cidfile)
        self.names.append(name)
        args = ["run", "--rm", "--network", "host", "--name", name, "--cidfile", cidfile]
        if detach:
            args.append("-d")
        r = self.podman(*args, "--rootfs", root, *argv, timeout=timeout)
        cid = open(cidfile).read().strip() if os.path.exists(cidfile) else ""
        return r, cid

    def run_image(self, name, image, argv, timeout=120):
        """podman run --rm of an image on the host's network; returns (result, full id)."""
        cidfile = os.path.join(self.dir, name + ".cid")
        if os.path.exists(cidfile):
            os.unlink(cidfile)
        self.names.append(name)
        r = self.podman("run", "--rm", "--network", "host", "--name", name, "--cidfile",
                        cidfile, image, *argv, timeout=timeout)
        cid = open(cidfile).read().strip() if os.path.exists(cidfile) else ""
        return r, cid

    def stop(self, name):
        self.podman("rm", "-f", "-t", "0", name)

    def cleanup(self):
        for n in self.names:
            self.podman("rm", "-f", "-t", "0", n)
        shutil.rmtree(self.dir, ignore_errors=True)
