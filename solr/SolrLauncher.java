// A local SolrCloud for bomflow: one Solr node and an embedded ZooKeeper, bound to 127.0.0.1.
//   java -cp 'solr/lib/*' solr/SolrLauncher.java PORT BASE_DIR CONFIG_NAME CONFIG_DIR
// Prints "SOLR_READY <base url>" once it serves requests; stops cleanly on SIGTERM.
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.stream.Stream;
import org.apache.solr.cloud.MiniSolrCloudCluster;

public class SolrLauncher {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    Path base = Paths.get(args[1]).toAbsolutePath();
    if (Files.exists(base)) {  // MiniSolrCloudCluster wants a fresh base dir
      try (Stream<Path> walk = Files.walk(base)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    MiniSolrCloudCluster cluster =
        new MiniSolrCloudCluster.Builder(1, base)
            .withJettyConfig(jetty -> jetty.setPort(port))
            .addConfig(args[2], Paths.get(args[3]).toAbsolutePath())
            .build();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        cluster.shutdown();
      } catch (Exception e) {
        System.err.println("shutdown: " + e);
      }
    }));
    System.out.println("SOLR_READY " + cluster.getJettySolrRunner(0).getBaseUrl());
    System.out.flush();
    Thread.currentThread().join();
  }
}
