using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using AnnexEdge.Clusters;
using AnnexEdge.Configuration;
using AnnexEdge.Locking;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using AnnexEdge.Telemetry;

namespace AnnexEdge.Tests.Telemetry;

public sealed partial class EdgeMetricsTests
{
    private const string GatewayUuid = "9a9a9a9a-0000-4000-8000-000000000001";

    // Labels whose values the configuration or the protocol bounds; nothing a client chooses.
    private static readonly string[] BoundedLabels =
        ["endpoint", "target_kind", "status", "target", "cluster", "node", "outcome", "repository", "backend", "to", "reason", "le"];

    private static RepositoryCatalog Catalog() => new(new AnnexEdgeOptions
    {
        Uuid = GatewayUuid,
        Repositories =
        [
            new RepositoryOptions { Name = "node1", Uuid = "11111111-0000-4000-8000-000000000001", Backends = ["http://127.0.0.1:9001"] },
            new RepositoryOptions { Name = "node2", Uuid = "11111111-0000-4000-8000-000000000002", Backends = ["http://127.0.0.1:9002"] },
        ],
        Clusters = [new ClusterOptions { Name = "mycluster", Uuid = "ac000000-0000-8000-8000-000000000001", Nodes = ["node1", "node2"] }],
    });

    private static string Export(EdgeMetrics metrics)
    {
        using var stream = new MemoryStream();
        metrics.Registry.CollectAndExportAsTextAsync(stream, TestContext.Current.CancellationToken).GetAwaiter().GetResult();
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Every kind of recording once, with a client's own values where the code has them at hand.</summary>
    private static (EdgeMetrics Metrics, RepositoryCatalog Catalog) Exercised()
    {
        var catalog = Catalog();
        var metrics = new EdgeMetrics(catalog);
        var cluster = catalog.Clusters[0];
        var node = catalog.Repositories[0];
        metrics.RequestAnswered(P2pEndpoint.Put, cluster, 200, Stopwatch.GetTimestamp(), 10, 20);
        metrics.RequestAnswered(P2pEndpoint.Key, node, 404, Stopwatch.GetTimestamp(), 0, 0);
        metrics.RequestAnswered(null, null, 400, Stopwatch.GetTimestamp(), 0, 0);
        metrics.RequestAnswered(P2pEndpoint.CheckPresent, new Gateway(GatewayUuid), 200, Stopwatch.GetTimestamp(), 0, 0);
        metrics.FanOutStarted(cluster, 2);
        metrics.NodeUploadStarted(cluster, node).End(NodeOutcome.Stored, 1000);
        metrics.NodeOutcome(cluster, catalog.Repositories[1], NodeOutcome.AlreadyHad);
        metrics.HealthChanged(node.Name, node.Backends[0].Id, up: false);
        metrics.LockRefused(node, LockRefusal.BackendBudget);
        metrics.LoginFailed();
        metrics.LoginThrottled(busy: true);
        return (metrics, catalog);
    }

    [GeneratedRegex(@"^# TYPE (?<name>\S+) (?<type>\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"(?<label>[a-z_]+)=""")]
    private static partial Regex LabelName();

    [Fact]
    public void The_series_of_a_repository_no_longer_served_are_forgotten_and_come_back_from_zero_if_it_returns()
    {
        var (metrics, catalog) = Exercised();
        var node1 = catalog.Repositories[0];
        var without = new RepositoryCatalog(new AnnexEdgeOptions
        {
            Repositories = [new RepositoryOptions { Name = "node2", Uuid = catalog.Repositories[1].Uuid, Backends = ["http://127.0.0.1:9002"] }],
        }).Current;
        Assert.Contains("repository=\"node1\"", Export(metrics), StringComparison.Ordinal);

        metrics.ForgetRepositoriesOtherThan(without);

        var text = Export(metrics);
        Assert.DoesNotContain("repository=\"node1\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("target=\"node1\"", text, StringComparison.Ordinal);
        Assert.Contains("target=\"node2\"", text, StringComparison.Ordinal);
        Assert.Contains("target=\"mycluster\"", text, StringComparison.Ordinal);

        metrics.RequestAnswered(P2pEndpoint.Key, node1, 200, Stopwatch.GetTimestamp(), 0, 7);
        Assert.Contains("annexedge_target_sent_bytes_total{target_kind=\"repository\",target=\"node1\"} 7", Export(metrics), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_metric_is_prefixed_annexedge_and_named_by_prometheus_conventions()
    {
        var text = Export(Exercised().Metrics);

        var families = TypeLine().Matches(text).Select(m => (Name: m.Groups["name"].Value, Type: m.Groups["type"].Value)).ToArray();
        Assert.NotEmpty(families);
        Assert.All(families, f =>
        {
            Assert.Matches("^annexedge_[a-z_]+$", f.Name);
            // Counters end in _total; nothing else does. Units are base units (seconds, bytes), never ms.
            Assert.Equal(f.Type == "counter", f.Name.EndsWith("_total", StringComparison.Ordinal));
            Assert.DoesNotMatch("_(ms|milliseconds|kb|mb|mib)(_|$)", f.Name);
        });
        Assert.Contains(families, f => f.Name == "annexedge_requests_total");
        Assert.Contains(families, f => f is { Name: "annexedge_node_upload_duration_seconds", Type: "histogram" });
    }

    [Fact]
    public void Labels_are_only_ones_the_configuration_or_protocol_bounds()
    {
        var text = Export(Exercised().Metrics);

        var labels = text.Split('\n').Where(l => l.Length > 0 && l[0] != '#')
            .SelectMany(l => LabelName().Matches(l).Select(m => m.Groups["label"].Value)).Distinct().ToArray();
        Assert.All(labels, l => Assert.Contains(l, BoundedLabels));
    }

    [Fact]
    public void Requests_are_counted_by_endpoint_target_kind_and_status_and_bytes_by_target()
    {
        var text = Export(Exercised().Metrics);

        Assert.Contains("annexedge_requests_total{endpoint=\"put\",target_kind=\"cluster\",status=\"200\"} 1", text);
        Assert.Contains("annexedge_requests_total{endpoint=\"key\",target_kind=\"repository\",status=\"404\"} 1", text);
        Assert.Contains("annexedge_requests_total{endpoint=\"invalid\",target_kind=\"none\",status=\"400\"} 1", text);
        Assert.Contains("annexedge_requests_total{endpoint=\"checkpresent\",target_kind=\"gateway\",status=\"200\"} 1", text);
        Assert.Contains("annexedge_target_received_bytes_total{target_kind=\"cluster\",target=\"mycluster\"} 10", text);
        Assert.Contains("annexedge_target_sent_bytes_total{target_kind=\"cluster\",target=\"mycluster\"} 20", text);
    }

    [Fact]
    public void A_node_transfer_is_in_flight_until_it_ends_and_counts_its_outcome_once()
    {
        var catalog = Catalog();
        var metrics = new EdgeMetrics(catalog);
        var transfer = metrics.NodeUploadStarted(catalog.Clusters[0], catalog.Repositories[0]);
        Assert.Contains("annexedge_node_uploads_in_flight{cluster=\"mycluster\",node=\"node1\"} 1", Export(metrics));

        transfer.End(NodeOutcome.TimedOut, 500);
        transfer.End(NodeOutcome.Stored, 500);

        var text = Export(metrics);
        Assert.Contains("annexedge_node_uploads_in_flight{cluster=\"mycluster\",node=\"node1\"} 0", text);
        Assert.Contains("annexedge_fanout_node_outcomes_total{cluster=\"mycluster\",node=\"node1\",outcome=\"timed_out\"} 1", text);
        Assert.DoesNotContain("outcome=\"stored\"", text);
        Assert.Contains("annexedge_node_sent_bytes_total{cluster=\"mycluster\",node=\"node1\"} 500", text);
    }

    [Fact]
    public void A_transfer_ended_by_the_client_leaves_no_outcome()
    {
        var catalog = Catalog();
        var metrics = new EdgeMetrics(catalog);

        metrics.NodeUploadStarted(catalog.Clusters[0], catalog.Repositories[0]).End(null, 100);

        var text = Export(metrics);
        Assert.Contains("annexedge_node_uploads_in_flight{cluster=\"mycluster\",node=\"node1\"} 0", text);
        Assert.DoesNotContain("annexedge_fanout_node_outcomes_total{", text);
    }

    [Fact]
    public void A_node_put_is_stored_only_when_the_node_says_so_and_a_timeout_is_told_from_a_failure()
    {
        var stored = P2pAnswer.Parse("""{"stored":true}"""u8.ToArray());
        var notStored = P2pAnswer.Parse("""{"stored":false}"""u8.ToArray());

        Assert.Equal(NodeOutcome.Stored, ClusterUpload.OutcomeOf(stored, null));
        Assert.Equal(NodeOutcome.Failed, ClusterUpload.OutcomeOf(notStored, null));
        Assert.Equal(NodeOutcome.Failed, ClusterUpload.OutcomeOf(null, new IOException("reset")));
        Assert.Equal(NodeOutcome.TimedOut, ClusterUpload.OutcomeOf(null, new TimeoutException("stalled")));
    }

    [Fact]
    public void Lock_refusals_are_named_by_their_limit()
    {
        Assert.Equal("budget", EdgeMetrics.RefusalName(LockRefusal.BackendBudget));
        Assert.Equal("reserved_for_users", EdgeMetrics.RefusalName(LockRefusal.ReservedForUsers));
        Assert.Equal("share", EdgeMetrics.RefusalName(LockRefusal.ShareOfSlots));
        Assert.Equal("client_quota", EdgeMetrics.RefusalName(LockRefusal.ClientQuota));
    }

    [Fact]
    public void Two_edges_in_one_process_count_apart()
    {
        var first = Exercised().Metrics;
        var second = new EdgeMetrics(Catalog());

        Assert.Contains("annexedge_login_failures_total 1", Export(first));
        Assert.Contains("annexedge_login_failures_total 0", Export(second));
    }
}
