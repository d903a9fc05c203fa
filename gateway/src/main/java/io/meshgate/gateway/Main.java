package io.meshgate.gateway;

import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.ConfigFileWatcher;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.EtcdConfigSource;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.descriptors.Descriptors;
import io.meshgate.transcoder.DescriptorException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/** The {@code meshgate} command line. */
public final class Main {
  static final String USAGE = """
      usage: meshgate --config FILE [--log-level LEVEL]
             meshgate --config-etcd ENDPOINTS [--config-prefix PREFIX]
                      [--config-etcd-ca FILE] [--config-etcd-cert FILE --config-etcd-key FILE]
                      [--log-level LEVEL]
             meshgate validate FILE
             meshgate routes --config FILE
             meshgate explain --config FILE (/pkg.Service/Method | "METHOD /path")
                      [-H name:value]...
             meshgate --help | --version

      Runs the Meshgate gateway: one port that proxies native gRPC and transcodes REST/JSON
      (h2c, TLS with ALPN, HTTP/1.1) to the upstream clusters named by the routes in FILE, with
      the policies FILE gives them, plus an admin port with /healthz, /readyz, /metrics and,
      with admin.token set, the admin API under /api/. Saved changes to FILE apply without a
      restart, except to listener, admin, limits, shutdown, discovery, transcoding, metrics,
      accessLog and tracing (the log names those); a broken FILE is refused and the running
      configuration kept.

      options:
        --config FILE       the YAML configuration to run (see README.md, "Configuration")
        --config-etcd ENDPOINTS
                            run the configuration kept in etcd (host:port,host:port) at
                            PREFIX + "gateway.yaml", watched: every gateway pointed at it serves
                            the same revision
        --config-prefix PREFIX
                            where in etcd (default /meshgate/config/)
        --config-etcd-ca FILE
                            reach that etcd over TLS, trusting the CAs in FILE (PEM)
        --config-etcd-cert FILE, --config-etcd-key FILE
                            ... presenting this client certificate and key (PEM, the key
                            PKCS#8), for an etcd run with --client-cert-auth
        --log-level LEVEL   SEVERE, WARNING, INFO (default) or FINE (one line per call)
        --help              print this help and exit
        --version           print the version and exit

      commands:
        validate FILE       check FILE and print every error in it; exit 1 if there is one
        routes              print the route table of --config FILE in match order: each
                            route's match, cluster, auth, rate limits, retry and deadline
        explain TARGET      say which route, cluster and policies a call to TARGET would get
                            and why; TARGET is /pkg.Service/Method or a REST request "GET
                            /v1/users/u-1" (its google.api.http rule from
                            transcoding.descriptors); -H name:value gives request headers
                            (:authority or host for authority matches, others for canaries);
                            exit 1 when no route takes it

      signals:
        SIGTERM, SIGINT     drain gracefully: /readyz turns 503, clients get GOAWAY, calls in
                            flight get shutdown.drainTimeout to finish, then the process exits 0

      exit status: 0 ok, 1 invalid configuration or failure to start, 2 bad usage
      """;

  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** Runs the command line; returns the exit status. Blocks while a gateway runs. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    String config = null;
    String configEtcd = null;
    String configPrefix = "/meshgate/config/";
    java.util.Map<String, String> etcdTlsFiles = new java.util.HashMap<>();
    String validate = null;
    String command = null;
    String target = null;
    java.util.List<String> headers = new java.util.ArrayList<>();
    Level level = Level.INFO;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      switch (arg) {
        case "-h", "--help" -> {
          out.print(USAGE);
          return 0;
        }
        case "--version" -> {
          out.println("meshgate " + version());
          return 0;
        }
        case "--config", "-c" -> {
          if (i + 1 == args.length) {
            return usage(err, "--config needs a file");
          }
          config = args[++i];
        }
        case "--config-etcd" -> {
          if (i + 1 == args.length) {
            return usage(err, "--config-etcd needs etcd endpoints (host:port,host:port)");
          }
          configEtcd = args[++i];
        }
        case "--config-etcd-ca", "--config-etcd-cert", "--config-etcd-key" -> {
          if (i + 1 == args.length) {
            return usage(err, args[i] + " needs a file");
          }
          etcdTlsFiles.put(args[i], args[++i]);
        }
        case "--config-prefix" -> {
          if (i + 1 == args.length) {
            return usage(err, "--config-prefix needs a key prefix");
          }
          configPrefix = args[++i];
        }
        case "--log-level" -> {
          if (i + 1 == args.length) {
            return usage(err, "--log-level needs a level");
          }
          try {
            level = Level.parse(args[++i].toUpperCase(java.util.Locale.ROOT));
          } catch (IllegalArgumentException e) {
            return usage(err, "unknown log level '" + args[i] + "'");
          }
        }
        case "validate" -> {
          if (i + 1 == args.length) {
            return usage(err, "validate needs a file");
          }
          validate = args[++i];
        }
        case "routes" -> command = "routes";
        case "explain" -> command = "explain";
        case "-H", "--header" -> {
          if (i + 1 == args.length || args[i + 1].indexOf(':', 1) < 0) {
            return usage(err, args[i] + " needs name:value");
          }
          headers.add(args[++i]);
        }
        default -> {
          if (arg.startsWith("--config=")) {
            config = arg.substring("--config=".length());
          } else if ("explain".equals(command) && target == null && !arg.startsWith("-")) {
            target = arg;
          } else {
            return usage(err, "unknown argument '" + arg + "'");
          }
        }
      }
    }
    if (validate != null) {
      try {
        GatewayConfig loaded = ConfigLoader.load(Path.of(validate));
        Descriptors.validate(loaded.transcoding());
        out.println(validate + ": ok (" + loaded.clusters().size() + " clusters, "
            + loaded.routes().size() + " routes)");
        return 0;
      } catch (ConfigException e) {
        err.println(e.getMessage());
        return 1;
      } catch (DescriptorException e) {
        err.println(validate + ": transcoding.descriptors: " + e.getMessage());
        return 1;
      }
    }
    if (command != null) {
      if (config == null) {
        return usage(err, command + " needs --config FILE");
      }
      if (command.equals("explain") && target == null) {
        return usage(err, "explain needs a target: /pkg.Service/Method or \"GET /path\"");
      }
      try {
        GatewayConfig loaded = ConfigLoader.load(Path.of(config));
        Explain explain = Explain.of(loaded);
        if (command.equals("routes")) {
          explain.routes(out);
          return 0;
        }
        return explain.explain(target, headers, out) ? 0 : 1;
      } catch (ConfigException e) {
        err.println(e.getMessage());
        return 1;
      } catch (Exception e) {
        err.println("cannot explain '" + target + "': " + e.getMessage());
        return 1;
      }
    }
    if (config != null && configEtcd != null) {
      return usage(err, "give --config or --config-etcd, not both");
    }
    if (config == null && configEtcd == null) {
      return usage(err, "no configuration given (use --config FILE or --config-etcd ENDPOINTS)");
    }
    configureLogging(level);
    if (configEtcd != null) {
      io.meshgate.resolver.EtcdTls tls = null;
      if (!etcdTlsFiles.isEmpty()) {
        try {
          tls = io.meshgate.resolver.EtcdTls.of(path(etcdTlsFiles.get("--config-etcd-ca")),
              path(etcdTlsFiles.get("--config-etcd-cert")),
              path(etcdTlsFiles.get("--config-etcd-key")));
        } catch (IllegalArgumentException e) {
          return usage(err, "--config-etcd TLS: " + e.getMessage());
        }
      }
      return runFromEtcd(configEtcd, configPrefix, tls, err);
    }
    GatewayConfig loaded;
    try {
      loaded = ConfigLoader.load(Path.of(config));
    } catch (ConfigException e) {
      err.println("meshgate: cannot start: " + e.getMessage());
      return 1;
    }
    Gateway gateway;
    try {
      gateway = Gateway.start(loaded);
    } catch (ConfigException e) {
      err.println("meshgate: cannot start: " + e.getMessage());
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    } catch (java.io.IOException | RuntimeException e) {
      err.println("meshgate: cannot start: " + e.getMessage());
      return 1;
    }
    Logger.getLogger("io.meshgate").info(String.format(
        "listening on %s:%d (%s), admin on %s:%d; %d clusters, %d routes, from %s",
        loaded.listener().host(), gateway.port(),
        loaded.listener().tls() == null ? "h2c, HTTP/1.1"
            : loaded.listener().tls().allowPlaintext() ? "TLS with ALPN h2/http1.1, h2c, HTTP/1.1"
            : "TLS with ALPN h2/http1.1",
        loaded.admin().host(), gateway.adminPort(), loaded.clusters().size(),
        loaded.routes().size(), config));
    // Saved changes to the file are applied live (routes, clusters, policies); see README.
    ConfigFileWatcher watcher = ConfigFileWatcher.start(Path.of(config), RELOAD_POLL,
        gateway::apply, (applied, message) -> gateway.reloaded("file", applied, message));
    gateway.useStore(new io.meshgate.gateway.config.ConfigStore(Path.of(config), watcher));
    return runUntilSignalled(gateway, watcher);
  }

  /**
   * Blocks until SIGTERM/SIGINT, then stops watching the configuration source and drains the
   * gateway; returns the exit status.
   */
  private static int runUntilSignalled(Gateway gateway, AutoCloseable configSource) {
    CountDownLatch stopped = new CountDownLatch(1);
    Signals.onTermination(() -> {
      try {
        configSource.close();
      } catch (Exception e) {
        Logger.getLogger("io.meshgate").warning("closing the configuration source: " + e);
      }
      gateway.shutdown().whenComplete((v, t) -> stopped.countDown());
    });
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      gateway.close();
    }
    return 0;
  }

  /** Runs the configuration kept in etcd, watched; blocks until the gateway stops. */
  private static java.nio.file.Path path(String file) {
    return file == null ? null : java.nio.file.Path.of(file);
  }

  private static int runFromEtcd(String endpoints, String prefix,
      io.meshgate.resolver.EtcdTls tls, PrintStream err) {
    EtcdConfigSource source;
    EtcdConfigSource.Loaded loaded;
    try {
      source = EtcdConfigSource.connect(
          io.meshgate.resolver.EtcdClients.parseEndpoints(endpoints), prefix, tls);
    } catch (IllegalArgumentException e) {
      return usage(err, "--config-etcd: " + e.getMessage());
    }
    Gateway gateway;
    try {
      loaded = source.load();
      gateway = Gateway.start(loaded.config());
    } catch (ConfigException | java.io.IOException | RuntimeException e) {
      err.println("meshgate: cannot start: " + e.getMessage());
      source.close();
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      source.close();
      return 1;
    }
    source.watch(loaded, gateway::apply, (applied, message) -> gateway.reloaded("etcd", applied,
        message));
    gateway.useStore(io.meshgate.gateway.config.ConfigStore.etcd(source));
    gateway.useRevision(source::revision);
    Logger.getLogger("io.meshgate").info("listening on port " + gateway.port() + ", admin on "
        + gateway.adminPort() + "; configuration from etcd " + source.key() + " at revision "
        + loaded.modRevision());
    return runUntilSignalled(gateway, source);
  }

  /** How often the config file is looked at: a saved change applies within about this. */
  private static final java.time.Duration RELOAD_POLL = java.time.Duration.ofMillis(250);

  private static int usage(PrintStream err, String problem) {
    err.println("meshgate: " + problem);
    err.println("try 'meshgate --help'");
    return 2;
  }

  private static String version() {
    String version = Main.class.getPackage().getImplementationVersion();
    return version == null ? "dev" : version;
  }

  /** One line per record on stderr, unless a logging.properties file was given. */
  private static void configureLogging(Level level) {
    if (System.getProperty("java.util.logging.config.file") != null) {
      return;
    }
    System.setProperty("java.util.logging.SimpleFormatter.format",
        "%1$tF %1$tT.%1$tL %4$-7s %3$s: %5$s%6$s%n");
    LogManager.getLogManager().reset();
    Logger root = Logger.getLogger("");
    Handler handler = new ConsoleHandler();
    handler.setFormatter(new SimpleFormatter());
    handler.setLevel(level);
    root.addHandler(handler);
    root.setLevel(Level.INFO);
    Logger.getLogger("io.meshgate").setLevel(level);
  }
}
