using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>
/// A replica that accepts connections but answers nothing (all its workers pinned) fails the active probe, leaves
/// rotation within interval x threshold + timeout, and comes back once it answers again. The healthy replica is a
/// real p2phttp; the wedged one is a mock whose probe answer the test holds back or releases.
/// </summary>
public sealed class WedgedReplicaTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);
    private const int Threshold = 2;

    [Fact]
    public async Task Wedged_replica_leaves_rotation_after_failed_probes_and_returns_when_it_answers_again()
    {
        await using var node = await P2pNode.StartAsync("wedged");
        using var wedged = WireMockServer.Start();
        var probePath = $"/git-annex/{node.Uuid}/v4/gettimestamp";
        wedged.Given(Request.Create().WithPath(probePath).UsingPost())
            .RespondWith(Response.Create().WithDelay(TimeSpan.FromSeconds(60)).WithStatusCode(200).WithBody("{\"timestamp\":1}"));
        var config = EdgeProcess.ConfigFor(node);
        config["Repositories"]![0]!["Backends"]!.AsArray().Add(wedged.Url);
        config["HealthChecks"] = new JsonObject
        {
            ["Interval"] = Interval.ToString(),
            ["Timeout"] = ProbeTimeout.ToString(),
            ["FailureThreshold"] = Threshold,
        };

        var started = Stopwatch.StartNew();
        await using var edge = await EdgeHost.StartAsync(config);
        await FaultEdge.WaitForAvailabilityAsync(edge, wedged.Url!, available: false, TimeSpan.FromSeconds(15));
        var outAfter = started.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine($"wedged replica out of rotation {outAfter} after the edge was started");

        // Interval x threshold + timeout, plus slack for a loaded machine.
        Assert.True(outAfter <= Interval * Threshold + ProbeTimeout + TimeSpan.FromSeconds(4), $"left rotation only after {outAfter}");
        Assert.Equal("Unhealthy", (string?)(await FaultEdge.BackendStatusAsync(edge, wedged.Url!))["active"]);

        using var http = FaultEdge.NewClient();
        for (var i = 0; i < 6; i++)
        {
            var clock = Stopwatch.StartNew();
            using var response = await http.PostAsync(
                $"{edge.Url}/git-annex/{node.Uuid}/v4/checkpresent?key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid}",
                null, TestContext.Current.CancellationToken);
            var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {body}");
            Assert.False((bool)JsonNode.Parse(body)!["present"]!);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"checkpresent took {clock.Elapsed}");
        }

        // The mock answers nothing but probes, and those it holds back: no request reached it.
        Assert.DoesNotContain(wedged.LogEntries, e => e.RequestMessage.Path != probePath);

        wedged.ResetMappings();
        wedged.Given(Request.Create().WithPath(probePath).UsingPost())
            .RespondWith(Response.Create().WithStatusCode(200)
                .WithHeader("Content-Type", "application/json;charset=utf-8").WithBody("{\"timestamp\":1}"));

        var backAfter = await FaultEdge.WaitForAvailabilityAsync(edge, wedged.Url!, available: true, TimeSpan.FromSeconds(10));
        TestContext.Current.TestOutputHelper?.WriteLine($"back in rotation {backAfter} after it answered again");
        Assert.True(backAfter <= Interval + ProbeTimeout + TimeSpan.FromSeconds(4), $"came back only after {backAfter}");
        Assert.Equal("Healthy", (string?)(await FaultEdge.BackendStatusAsync(edge, wedged.Url!))["active"]);
    }
}
