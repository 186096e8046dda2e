using AnnexEdge.IntegrationTests.Clusters;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Telemetry;

/// <summary>
/// <c>/metrics</c> scraped while a real 256 MiB upload fans out through the cluster gateway to three real p2phttp
/// nodes, one of which is killed mid-upload.
/// </summary>
public sealed class ClusterUploadMetricsTests
{
    private const string Cluster = ClusterLab.ClusterName;

    private static async Task<PrometheusText> ScrapeAsync(ClusterLab lab) =>
        PrometheusText.Parse(await lab.Http.GetStringAsync(lab.Edge.Url + "/metrics", TestContext.Current.CancellationToken));

    [Fact]
    public async Task A_cluster_upload_shows_in_flight_per_node_then_each_nodes_outcome_and_bytes_with_a_killed_node_as_failed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var lab = await ClusterLab.StartAsync(withClient: false);
        var victim = lab.Nodes[1];
        var content = new GeneratedContent(256L * 1024 * 1024, seed: 16);
        PrometheusText? during = null;
        string? pageDuring = null;

        var body = content.Body(async written =>
        {
            if (during is not null || written < 64L * 1024 * 1024)
            {
                return;
            }

            // The client's upload waits here, so each node's transfer is still in flight while we look.
            await Eventually.Async(
                async () =>
                {
                    during = await ScrapeAsync(lab);
                    return lab.Nodes.All(n => during.Value("annexedge_node_uploads_in_flight", ("cluster", Cluster), ("node", n.Name)) == 1);
                },
                TimeSpan.FromSeconds(30),
                "every node's upload in flight",
                () => string.Join("\n", during?.Samples.Where(s => s.Name.Contains("in_flight")) ?? []));
            pageDuring = await lab.Http.GetStringAsync(lab.Edge.Url + "/_annexedge/", ct);
            victim.KillServer(0);
        });

        var stored = await lab.PutAsync(lab.Edge, lab.ClusterUuid, "v4", content.Key, content.Length, body, ct);

        Assert.True(stored.GetProperty("stored").GetBoolean(), stored + "\n" + lab.Logs);
        Assert.Equal(3, during!.Value("annexedge_node_uploads_in_flight", ("cluster", Cluster)));
        // The status page lists the same three uploads, each with the bytes it has sent so far.
        Assert.Equal(3, System.Text.RegularExpressions.Regex.Count(pageDuring!, "data-kind=\"upload\""));

        PrometheusText after = null!;
        await Eventually.Async(
            async () => (after = await ScrapeAsync(lab)).Value(
                "annexedge_requests_total", ("endpoint", "put"), ("target_kind", "cluster"), ("status", "200")) == 1,
            TimeSpan.FromSeconds(10),
            "the put counted once answered");

        foreach (var node in lab.Nodes)
        {
            Assert.Equal(0, after.Value("annexedge_node_uploads_in_flight", ("cluster", Cluster), ("node", node.Name)));
        }

        double? Outcome(int node, string outcome) =>
            after.Value("annexedge_fanout_node_outcomes_total", ("cluster", Cluster), ("node", lab.Nodes[node].Name), ("outcome", outcome));
        Assert.Equal(1, Outcome(0, "stored"));
        Assert.Equal(1, Outcome(1, "failed"));
        Assert.Equal(1, Outcome(2, "stored"));
        Assert.Null(Outcome(1, "stored"));

        double? Sent(int node) => after.Value("annexedge_node_sent_bytes_total", ("cluster", Cluster), ("node", lab.Nodes[node].Name));
        Assert.Equal(content.Length, Sent(0));
        Assert.Equal(content.Length, Sent(2));
        Assert.InRange(Sent(1) ?? 0, 1, content.Length - 1);

        Assert.Equal(1, after.Value("annexedge_fanout_width_count", ("cluster", Cluster)));
        Assert.Equal(3, after.Value("annexedge_fanout_width_sum", ("cluster", Cluster)));
        Assert.Equal(1, after.Value("annexedge_node_upload_duration_seconds_count", ("node", lab.Nodes[0].Name), ("outcome", "stored")));
        Assert.Equal(content.Length, after.Value("annexedge_target_received_bytes_total", ("target_kind", "cluster"), ("target", Cluster)));

        // The killed node leaves rotation once the edge notices, and that counts as a health transition.
        await Eventually.Async(
            async () => (await ScrapeAsync(lab)).Value(
                "annexedge_backend_health_transitions_total", ("repository", victim.Name), ("to", "down")) == 1,
            TimeSpan.FromSeconds(30),
            "the killed node's backend counted as going down");
        Assert.Equal(0, (await ScrapeAsync(lab)).Value("annexedge_backend_up", ("repository", victim.Name)));
    }
}
