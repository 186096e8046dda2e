using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Telemetry;

/// <summary>The status page <c>/_annexedge/</c> as a person sees it: rendered by real headless Chromium.</summary>
public sealed partial class StatusPageBrowserTests
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Each node's state as the cluster table shows it.</summary>
    private static Dictionary<string, string> NodeStates(string dom) =>
        NodeRow().Matches(dom).ToDictionary(m => m.Groups["node"].Value, m => m.Groups["state"].Value);

    [GeneratedRegex("<tr data-cluster=\"mycluster\" data-node=\"(?<node>[^\"]+)\" data-state=\"(?<state>up|down)\">")]
    private static partial Regex NodeRow();

    [Fact]
    public async Task The_page_shows_every_node_up_then_a_stopped_node_down_within_one_probe_interval()
    {
        HeadlessChromium.Require();
        var ct = TestContext.Current.CancellationToken;
        await using var lab = await ClusterLab.StartAsync(withClient: false, config => config["HealthChecks"] = new JsonObject
        {
            ["Interval"] = ProbeInterval.ToString(),
            ["Timeout"] = ProbeTimeout.ToString(),
            ["FailureThreshold"] = 1,
        });
        var url = lab.Edge.Url + "/_annexedge/?refresh=2";

        var dom = "";
        await Eventually.Async(
            async () => NodeStates(dom = await HeadlessChromium.DumpDomAsync(url, ct: ct)) is { Count: 3 } states && states.Values.All(s => s == "up"),
            TimeSpan.FromSeconds(60),
            "every node shown up",
            () => dom);
        Assert.Contains("<meta http-equiv=\"refresh\" content=\"2\">", dom);
        // The last probe of each backend, with its latency.
        Assert.Matches("200 in [0-9.]+ ms", dom);

        var stopped = lab.Nodes[2];
        stopped.KillServer(0);
        var killed = Stopwatch.StartNew();

        // A page rendered once a probe has run since the kill (one interval, and the probe's own timeout) shows it down.
        var due = ProbeInterval + ProbeTimeout;
        while (true)
        {
            var renderStarted = killed.Elapsed;
            dom = await HeadlessChromium.DumpDomAsync(url, ct: ct);
            var states = NodeStates(dom);
            if (states.GetValueOrDefault(stopped.Name) == "down")
            {
                break;
            }

            Assert.True(renderStarted < due, $"{stopped.Name} still shown {states.GetValueOrDefault(stopped.Name)} in a page requested {renderStarted.TotalSeconds:0.0} s after it stopped:\n{dom}");
        }

        var after = NodeStates(dom);
        Assert.Equal("up", after[lab.Nodes[0].Name]);
        Assert.Equal("up", after[lab.Nodes[1].Name]);
        Assert.Matches($"<tr data-repository=\"{stopped.Name}\" data-backend=\"[^\"]+\" data-state=\"down\">", dom);
    }
}
