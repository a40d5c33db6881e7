// bomflow's local SolrCloud, one process per part, every part bound to 127.0.0.1, all state on disk:
//
//   java -cp '.solr-lib/*' adapters/jvm/SolrLauncher.java zk PORT DATA_DIR
//       a standalone ZooKeeper (collections, aliases, configsets, security.json) in DATA_DIR
//   java -cp '.solr-lib/*' adapters/jvm/SolrLauncher.java node PORT SOLR_HOME ZK_HOST CONFIG_NAME CONFIG_DIR USERS_FILE
//       one Solr node whose cores live in SOLR_HOME. Before starting it uploads the configset, and
//       writes /security.json (BasicAuth + rule-based authorisation) from USERS_FILE when ZooKeeper has
//       none yet. USERS_FILE: one "user password role" line per user; roles: writer, reader.
//
// Nothing is deleted on start: a restart (or kill -9) finds its index, collections and aliases again.
// Prints "SOLR_READY <url>" once it serves requests; stops cleanly on SIGTERM.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.solr.cloud.MiniSolrCloudCluster;
import org.apache.solr.common.cloud.SolrZkClient;
import org.apache.solr.common.cloud.ZkMaintenanceUtils;
import org.apache.solr.embedded.JettyConfig;
import org.apache.solr.embedded.JettySolrRunner;
import org.apache.solr.security.Sha256AuthenticationProvider;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.server.ServerConfig;
import org.apache.zookeeper.server.ZooKeeperServerMain;
import org.apache.zookeeper.server.quorum.QuorumPeerConfig;

public class SolrLauncher {
  public static void main(String[] args) throws Exception {
    if (args[0].equals("zk")) {
      zookeeper(Integer.parseInt(args[1]), Paths.get(args[2]).toAbsolutePath());
    } else {
      node(Integer.parseInt(args[1]), Paths.get(args[2]).toAbsolutePath(), args[3], args[4],
          Paths.get(args[5]).toAbsolutePath(), Paths.get(args[6]).toAbsolutePath());
    }
  }

  static void zookeeper(int port, Path data) throws Exception {
    Files.createDirectories(data);
    System.setProperty("zookeeper.admin.enableServer", "false");   // no admin web server on 8080
    Properties props = new Properties();
    props.setProperty("dataDir", data.toString());
    props.setProperty("clientPort", Integer.toString(port));
    props.setProperty("clientPortAddress", "127.0.0.1");
    props.setProperty("tickTime", "2000");
    props.setProperty("maxClientCnxns", "0");
    props.setProperty("4lw.commands.whitelist", "ruok,mntr,conf");
    QuorumPeerConfig quorum = new QuorumPeerConfig();
    quorum.parseProperties(props);
    ServerConfig config = new ServerConfig();
    config.readFrom(quorum);
    System.out.println("SOLR_READY zk 127.0.0.1:" + port);
    System.out.flush();
    new ZooKeeperServerMain().runFromConfig(config);   // blocks until shut down
  }

  static void node(int port, Path home, String zkHost, String configName, Path configDir, Path usersFile)
      throws Exception {
    Files.createDirectories(home);
    Path solrXml = home.resolve("solr.xml");
    if (!Files.exists(solrXml)) {
      Files.writeString(solrXml, MiniSolrCloudCluster.DEFAULT_CLOUD_SOLR_XML);
    }
    try (SolrZkClient zk = new SolrZkClient.Builder().withUrl(zkHost).withTimeout(30, TimeUnit.SECONDS).build()) {
      ZkMaintenanceUtils.uploadToZK(zk, configDir, "/configs/" + configName,
          ZkMaintenanceUtils.UPLOAD_FILENAME_EXCLUDE_PATTERN);
      if (!zk.exists("/security.json", true)) {
        try {
          zk.create("/security.json", security(usersFile).getBytes(StandardCharsets.UTF_8), CreateMode.PERSISTENT,
              true);
        } catch (KeeperException.NodeExistsException another) {
          // the other node, started at the same time, wrote it first: keep that one
        }
      }
    }
    Properties props = new Properties();
    props.setProperty("zkHost", zkHost);
    props.setProperty("host", "127.0.0.1");
    props.setProperty("hostPort", Integer.toString(port));
    props.setProperty("hostContext", "/solr");
    JettyConfig config = JettyConfig.builder().setPort(port).setContext("/solr").stopAtShutdown(true).build();
    JettySolrRunner jetty = new JettySolrRunner(home.toString(), props, config);
    jetty.start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        jetty.stop();
      } catch (Exception e) {
        System.err.println("shutdown: " + e);
      }
    }));
    System.out.println("SOLR_READY " + jetty.getBaseUrl());
    System.out.flush();
    Thread.currentThread().join();
  }

  // BasicAuth for every request (blockUnknown), and who may do what: readers query, writers also
  // index, create and delete collections, move aliases and change security.
  static String security(Path usersFile) throws Exception {
    List<String> credentials = new ArrayList<>();
    List<String> roles = new ArrayList<>();
    for (String line : Files.readAllLines(usersFile)) {
      String[] f = line.trim().split("\\s+");
      if (f.length != 3) {
        continue;
      }
      credentials.add(q(f[0]) + ":" + q(Sha256AuthenticationProvider.getSaltedHashedValue(f[1])));
      roles.add(q(f[0]) + ":" + q(f[2]));
    }
    String read = "[\"reader\",\"writer\"]";
    return "{\"authentication\":{\"class\":\"solr.BasicAuthPlugin\",\"blockUnknown\":true,\"forwardCredentials\":false,"
        + "\"credentials\":{" + String.join(",", credentials) + "}},"
        + "\"authorization\":{\"class\":\"solr.RuleBasedAuthorizationPlugin\","
        + "\"user-role\":{" + String.join(",", roles) + "},"
        + "\"permissions\":["
        + "{\"name\":\"health\",\"role\":null},"
        + "{\"name\":\"read\",\"role\":" + read + "},"
        + "{\"name\":\"collection-admin-read\",\"role\":" + read + "},"
        + "{\"name\":\"metrics-read\",\"role\":" + read + "},"
        + "{\"name\":\"update\",\"role\":\"writer\"},"
        + "{\"name\":\"collection-admin-edit\",\"role\":\"writer\"},"
        + "{\"name\":\"config-edit\",\"role\":\"writer\"},"
        + "{\"name\":\"security-edit\",\"role\":\"writer\"},"
        + "{\"name\":\"all\",\"role\":\"writer\"}]}}";
  }

  static String q(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
