"""The servers the harness compares, each started as a foreground process
of its own (an unprivileged user's when the harness runs as root) on a
free 127.0.0.1 port, with a configuration generated into the run's
directory, serving the same docroot.  Every server is stopped by its
process group id: the harness never signals anything it did not start.
"""
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import time

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE_PATH = os.environ.get(
    "CONDCACHE_MODULE", os.path.join(REPO_DIR, ".libs", "mod_condcache.so"))
APACHE_BIN = os.environ.get("APACHE_BIN", "/usr/sbin/apache2")
APACHE_MODULES_DIR = os.environ.get("APACHE_MODULES_DIR",
                                    "/usr/lib/apache2/modules")
GO_SOURCE = os.path.join(REPO_DIR, "conformance", "goserver", "main.go")

# Bounded waits: a server that does not answer by then has failed.
STARTUP_SECONDS = 15
STOP_SECONDS = 5
PORT_TRIES = 3

# The user servers run as when the harness is root (nobody would do, but
# www-data is the user the pytest suite's servers run as).
RUN_USER = os.environ.get("CONFORMANCE_USER", "www-data")


class ServerError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_identity():
    """(uid, gid) to run servers as, or None to run them as ourselves."""
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam(RUN_USER)
    return user.pw_uid, user.pw_gid


def command_output(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError as e:
        return str(e)
    return (p.stdout + p.stderr).strip()


class Server:
    """One server kind.  Subclasses say which binary and package it is,
    write its configuration and give its command line."""

    letter = name = title = package = binary = ""
    # mod_condcache: its disagreements decide the exit status
    is_module = False

    def __init__(self, run_dir, docroot):
        self.dir = os.path.join(run_dir, self.name)
        self.docroot = docroot
        self.port = None
        self.process = None
        self.log_path = os.path.join(self.dir, "output.log")
        os.makedirs(self.dir, exist_ok=True)

    # -- what a subclass provides ----------------------------------------
    def write_config(self):
        """Writes the configuration for self.port into self.dir."""
        raise NotImplementedError

    def argv(self):
        raise NotImplementedError

    def environment(self):
        return dict(os.environ)

    def version(self):
        raise NotImplementedError

    def prepare(self):
        """Work before the first start (a build); runs as the harness."""

    # -- lifecycle ---------------------------------------------------------
    def require_installed(self):
        if not shutil.which(self.binary) and not os.path.exists(self.binary):
            raise ServerError(
                "%s: %s not found (package %s): run scripts/install-deps test"
                % (self.name, self.binary, self.package))

    def start(self, identity):
        self.require_installed()
        self.prepare()
        last_error = None
        for _ in range(PORT_TRIES):
            self.port = free_port()
            self.write_config()
            if identity:
                for root, dirs, files in os.walk(self.dir):
                    for entry in [root] + [os.path.join(root, f)
                                           for f in files]:
                        os.chown(entry, *identity)
            try:
                self.launch(identity)
                return
            except ServerError as e:
                last_error = e
                self.stop()
                # another process took the port between free_port() and
                # the server's bind: try a new one; anything else is fatal
                if "in use" not in str(e).lower():
                    break
        raise last_error

    def launch(self, identity):
        log = open(self.log_path, "ab")
        kwargs = {}
        if identity:
            kwargs = {"user": identity[0], "group": identity[1],
                      "extra_groups": []}
        self.process = subprocess.Popen(
            self.argv(), cwd=self.dir, env=self.environment(),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True, **kwargs)
        log.close()
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError("%s exited with status %d at startup:\n%s"
                                  % (self.name, self.process.returncode,
                                     self.log_tail()))
            if self.answers_http():
                return
            time.sleep(0.05)
        raise ServerError("%s did not answer on port %d within %d s:\n%s"
                          % (self.name, self.port, STARTUP_SECONDS,
                             self.log_tail()))

    def answers_http(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=1) as s:
                s.sendall(b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Connection: close\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/")
        except OSError:
            return False

    def stop(self):
        """SIGTERM to the server's own process group, SIGKILL after a
        bounded wait."""
        if not self.process or self.process.poll() is not None:
            return
        group = self.process.pid   # start_new_session: pgid == pid
        try:
            os.killpg(group, signal.SIGTERM)
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(STOP_SECONDS)
        except ProcessLookupError:
            pass
        # workers the leader left behind in its group
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, size=3000):
        texts = []
        for root, _, files in os.walk(self.dir):
            for f in files:
                if f.endswith(".log") or f == "error_log":
                    with open(os.path.join(root, f), "rb") as fh:
                        text = fh.read()[-size:].decode("utf-8", "replace")
                    if text.strip():
                        texts.append("--- %s\n%s" % (f, text))
        return "\n".join(texts) or "(no log output)"

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class Apache(Server):
    """/usr/sbin/apache2 -DFOREGROUND with mpm_event; subclasses add what
    differs between the three Apache configurations."""
    package = "apache2"
    binary = APACHE_BIN
    MPM_CONF = {
        "event": ["StartServers 1", "ThreadsPerChild 16",
                  "MaxRequestWorkers 32"],
        "worker": ["StartServers 1", "ThreadsPerChild 16",
                   "MaxRequestWorkers 32"],
        "prefork": ["StartServers 2", "MaxRequestWorkers 16"],
    }

    def __init__(self, run_dir, docroot, mpm="event"):
        self.mpm = mpm
        if mpm != "event":
            # an instance attribute: the class keeps the --servers name
            self.name = "%s-%s" % (self.name, mpm)
            self.title = "%s, mpm_%s" % (self.title, mpm)
        super().__init__(run_dir, docroot)

    def directory_conf(self):
        raise NotImplementedError

    def extra_modules(self):
        return []

    def write_config(self):
        modules = ["mpm_" + self.mpm, "authz_core", "mime"]
        lines = ["# generated by conformance/servers.py",
                 "ServerRoot %s" % self.dir,
                 "ServerName 127.0.0.1",
                 "Listen 127.0.0.1:%d" % self.port,
                 "PidFile %s/httpd.pid" % self.dir,
                 "DefaultRuntimeDir %s" % self.dir,
                 "ErrorLog %s/error_log" % self.dir,
                 "LogLevel warn"]
        lines += ["LoadModule %s_module %s/mod_%s.so"
                  % (m, APACHE_MODULES_DIR, m) for m in modules]
        lines += self.extra_modules()
        lines += self.MPM_CONF[self.mpm]
        lines += ["KeepAlive On",
                  "MaxKeepAliveRequests 0",
                  "TypesConfig /etc/mime.types",
                  "DocumentRoot %s" % self.docroot,
                  "<Directory />",
                  "    Require all denied",
                  "</Directory>",
                  "<Directory %s>" % self.docroot,
                  "    Require all granted",
                  "    Options None",
                  "    AllowOverride None"]
        lines += ["    " + d for d in self.directory_conf()]
        lines += ["</Directory>"]
        self.write("httpd.conf", "\n".join(lines) + "\n")

    def argv(self):
        return [APACHE_BIN, "-f", os.path.join(self.dir, "httpd.conf"),
                "-DFOREGROUND"]

    def version(self):
        return command_output([APACHE_BIN, "-v"]).splitlines()[0]


class ApacheCondCache(Apache):
    letter, name = "a", "condcache"
    title = "Apache + mod_condcache (CondCache On, sha1)"
    is_module = True

    def require_installed(self):
        super().require_installed()
        if not os.path.isfile(MODULE_PATH):
            raise ServerError("condcache: %s is not built (make -f "
                              "Makefile.apxs)" % MODULE_PATH)

    def extra_modules(self):
        return ["LoadModule condcache_module %s" % MODULE_PATH]

    def directory_conf(self):
        return ["CondCache On"]

    def version(self):
        return super().version() + " + " + MODULE_PATH


class ApacheMTimeSize(Apache):
    letter, name = "b", "core-mtime-size"
    title = "Apache core, FileETag MTime Size"

    def directory_conf(self):
        return ["FileETag MTime Size"]


class ApacheDigest(Apache):
    letter, name = "c", "core-digest"
    title = "Apache core, FileETag Digest"

    def directory_conf(self):
        return ["FileETag Digest"]


class Nginx(Server):
    letter, name, package, binary = "d", "nginx", "nginx", "/usr/sbin/nginx"
    title = "nginx"

    def write_config(self):
        d = self.dir
        # every path nginx would otherwise take from /var is in our dir
        self.write("nginx.conf", f"""# generated by conformance/servers.py
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include /etc/nginx/mime.types;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.docroot};
    }}
}}
""")

    def argv(self):
        return [self.binary, "-p", self.dir + "/", "-e",
                os.path.join(self.dir, "error.log"),
                "-c", os.path.join(self.dir, "nginx.conf")]

    def version(self):
        return command_output([self.binary, "-v"])


class Lighttpd(Server):
    letter, name, package = "e", "lighttpd", "lighttpd"
    binary = "/usr/sbin/lighttpd"
    title = "lighttpd"

    def write_config(self):
        # mod_staticfile is built in.  The MIME type is not decoration:
        # lighttpd sends no ETag or Last-Modified for a file whose type it
        # does not know.
        self.write("lighttpd.conf", f"""# generated by conformance/servers.py
server.bind = "127.0.0.1"
server.port = {self.port}
server.document-root = "{self.docroot}"
server.errorlog = "{self.dir}/error.log"
server.upload-dirs = ( "{self.dir}" )
mimetype.assign = ( ".txt" => "text/plain" )
""")

    def argv(self):
        return [self.binary, "-D", "-f",
                os.path.join(self.dir, "lighttpd.conf")]

    def version(self):
        return command_output([self.binary, "-v"]).splitlines()[0]


class Caddy(Server):
    letter, name, package, binary = "f", "caddy", "caddy", "/usr/bin/caddy"
    title = "Caddy"

    def write_config(self):
        # no admin endpoint, no HTTPS, nothing saved outside our dir
        self.write("Caddyfile", f"""# generated by conformance/servers.py
{{
    admin off
    auto_https off
    storage file_system {self.dir}/storage
}}
http://127.0.0.1:{self.port} {{
    root * {self.docroot}
    file_server
}}
""")

    def environment(self):
        env = dict(os.environ)
        env.update(HOME=self.dir, XDG_DATA_HOME=self.dir,
                   XDG_CONFIG_HOME=self.dir)
        return env

    def argv(self):
        return [self.binary, "run", "--adapter", "caddyfile", "--config",
                os.path.join(self.dir, "Caddyfile")]

    def version(self):
        return "caddy " + command_output([self.binary, "version"])


class H2o(Server):
    letter, name, package, binary = "g", "h2o", "h2o", "/usr/bin/h2o"
    title = "h2o"

    def write_config(self):
        self.write("h2o.conf", f"""# generated by conformance/servers.py
listen:
  host: 127.0.0.1
  port: {self.port}
pid-file: {self.dir}/h2o.pid
error-log: {self.dir}/error.log
num-threads: 1
hosts:
  default:
    paths:
      /:
        file.dir: {self.docroot}
""")

    def argv(self):
        return [self.binary, "-c", os.path.join(self.dir, "h2o.conf")]

    def version(self):
        return command_output([self.binary, "-v"]).splitlines()[0]


class GoServeContent(Server):
    letter, name, package, binary = "h", "go", "golang-go", "/usr/bin/go"
    title = "Go net/http ServeContent"

    def prepare(self):
        """Builds goserver/main.go (stdlib only) with caches in our dir."""
        self.program = os.path.join(self.dir, "goserver")
        if os.path.exists(self.program):
            return
        env = dict(os.environ, GOCACHE=os.path.join(self.dir, "gocache"),
                   GOPATH=os.path.join(self.dir, "gopath"), GOPROXY="off",
                   GO111MODULE="off", GOFLAGS="", CGO_ENABLED="0")
        p = subprocess.run([self.binary, "build", "-o", self.program,
                            GO_SOURCE], env=env, capture_output=True,
                           text=True, timeout=300)
        if p.returncode != 0:
            raise ServerError("go build of %s failed:\n%s%s"
                              % (GO_SOURCE, p.stdout, p.stderr))
        # the build caches are ours, not the server's
        shutil.rmtree(env["GOCACHE"], ignore_errors=True)
        shutil.rmtree(env["GOPATH"], ignore_errors=True)

    def write_config(self):
        pass   # its command line is its configuration

    def argv(self):
        return [self.program, "127.0.0.1:%d" % self.port, self.docroot]

    def version(self):
        return command_output([self.binary, "version"])


SERVER_KINDS = [ApacheCondCache, ApacheMTimeSize, ApacheDigest, Nginx,
                Lighttpd, Caddy, H2o, GoServeContent]
# the server whose answers say what httpd itself does (report.py)
CORE_SERVER = ApacheMTimeSize.name


def select(spec, every_mpm, run_dir, docroot):
    """The servers named in `spec` ("a,b" or "condcache,nginx"; None: all),
    in the order of SERVER_KINDS; with every_mpm, mod_condcache also under
    the prefork and worker MPMs (the module keeps per-process state)."""
    kinds = select_kinds(spec)
    chosen = []
    for kind in kinds:
        chosen.append(kind(run_dir, docroot))
        if every_mpm and kind is ApacheCondCache:
            chosen += [kind(run_dir, docroot, mpm)
                       for mpm in ("prefork", "worker")]
    return chosen


def select_kinds(spec):
    if not spec:
        return list(SERVER_KINDS)
    wanted = {w.strip() for w in spec.split(",") if w.strip()}
    known = {k.letter for k in SERVER_KINDS} | {k.name for k in SERVER_KINDS}
    unknown = wanted - known
    if unknown:
        raise ServerError("unknown server(s) %s; known: %s" % (
            ", ".join(sorted(unknown)),
            ", ".join("%s=%s" % (k.letter, k.name) for k in SERVER_KINDS)))
    return [k for k in SERVER_KINDS
            if k.letter in wanted or k.name in wanted]


# Debian's nginx, lighttpd, caddy and h2o packages enable a system service
# on port 80 and start it at install time unless policy-rc.d forbids it
# (it does in containers).  A machine where apt did start one is left with
# a root daemon nobody asked for: stop and disable it.
DISTRO_SERVICES = ("nginx", "lighttpd", "caddy", "h2o")


def stop_distro_services():
    """Stops and disables the packages' system services that are running;
    returns what was done (for the log)."""
    done = []
    systemd = os.path.isdir("/run/systemd/system")
    for service in DISTRO_SERVICES:
        if systemd:
            active = subprocess.run(["systemctl", "is-active", "--quiet",
                                     service]).returncode == 0
            if not active:
                continue
            if os.geteuid() != 0:
                raise ServerError(
                    "the system service %s is running (started by its "
                    "package); stop it as root: systemctl disable --now %s"
                    % (service, service))
            subprocess.run(["systemctl", "disable", "--now", service],
                           check=False, capture_output=True)
            done.append("systemctl disable --now " + service)
            continue
        script = "/etc/init.d/" + service
        if not os.path.exists(script):
            continue
        status = subprocess.run([script, "status"], capture_output=True)
        if status.returncode != 0:
            continue
        if os.geteuid() != 0:
            raise ServerError("the system service %s is running; stop it "
                              "as root: %s stop" % (service, script))
        subprocess.run([script, "stop"], check=False, capture_output=True)
        subprocess.run(["update-rc.d", service, "disable"], check=False,
                       capture_output=True)
        done.append("%s stop; update-rc.d %s disable" % (script, service))
    return done
