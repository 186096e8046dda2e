using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Clusters;

/// <summary>
/// A cluster GET whose node stalls mid-body (sends part of the object, then nothing, the connection kept open): the
/// edge gives the node up after <c>Forwarding:StallTimeout</c>, or <c>Forwarding:ActivityTimeout</c> when shorter (as
/// here), and continues from another node at the byte reached; when no node can continue, it cuts the client's
/// connection instead of leaving it hanging. The stalling nodes are scripted fakes (<see cref="StallingNode"/>), the
/// node that can finish is a real <c>git annex p2phttp</c>.
/// </summary>
public sealed class ClusterStalledNodeTests
{
    private static readonly TimeSpan ActivityTimeout = TimeSpan.FromSeconds(2);

    private const string EdgeUuid = "ed9e57a1-0000-4000-8000-000000000001";

    /// <summary>Version 8, starting with "ac", as <c>git annex initcluster</c> makes them.</summary>
    private const string ClusterUuid = "ac57a11e-0000-8000-8000-000000000001";

    private const string ClientUuid = "c1e57a11-0000-4000-8000-000000000001";

    [Fact]
    public async Task Download_whose_first_node_stalls_mid_body_is_completed_byte_exact_from_another_node_after_the_activity_timeout()
    {
        var ct = TestContext.Current.CancellationToken;
        var content = TestObject.Random(1024 * 1024 + 4099);
        const int stallAfter = 200_000;
        await using var real = await P2pNode.StartAsync("real");
        await AddLocallyAsync(real, content);
        await using var stalling = new StallingNode("57a11ed0-0000-4000-8000-000000000001", content.Bytes, stallAfter);
        await using var edge = await EdgeHost.StartAsync(ClusterConfig([("stalling", stalling.Uuid, stalling.Url, 10)], real, realCost: 100));

        var download = await ClientDownload.GetAsync($"{edge.Url}/git-annex/{ClusterUuid}/v4/key/{content.Key}?clientuuid={ClientUuid}", ct);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"first bytes after {download.FirstBytes}, complete after {download.Elapsed} (ActivityTimeout {ActivityTimeout})");

        var what = $"{download}\n--- edge\n{edge.Logs}\n--- real\n{real.Logs}";
        Assert.True(download.Error is null, "the download failed: " + what);
        Assert.Equal(HttpStatusCode.OK, download.Status);
        Assert.Equal(content.Length, download.BytesRead);
        Assert.Equal(SHA256.HashData(content.Bytes), download.Sha256);

        // The stalling node was asked first, from the start, and sent its part before the stall.
        Assert.Equal(new[] { 0L }, stalling.KeyRequestOffsets);
        Assert.True(download.FirstBytes < ActivityTimeout, "the stalling node's part did not reach the client before the stall: " + what);

        // The edge waited for the stalled node about ActivityTimeout, not longer.
        Assert.InRange(download.Elapsed, ActivityTimeout * 0.75, ActivityTimeout + TimeSpan.FromSeconds(6));

        // It continued from the real node at the very byte the stalled one had reached, and said so.
        await edge.EventAsync(EdgeEventIds.ClusterDownloadResumed, e => e.Text("Node") == real.Name && e.Number("Offset") == stallAfter);
        // The request's own event is logged once its answer is over, so after any failure of its download.
        await edge.RequestEventAsync("GET", "/key/" + content.Key);
        Assert.DoesNotContain(edge.Events.All, e => e.EventId() == EdgeEventIds.ClusterDownloadFailed);

        // And it let go of the stalled connection.
        await stalling.HungUp.WaitAsync(TimeSpan.FromSeconds(10), ct);
    }

    [Fact]
    public async Task Download_whose_only_holder_stalls_once_mid_body_is_finished_by_asking_that_node_again_from_the_byte_reached()
    {
        // As git-annex 10.20250416's p2phttp does now and then with the first GET of a key: a short answer that stalls,
        // then a whole answer to the next GET.
        var ct = TestContext.Current.CancellationToken;
        var content = TestObject.Random(1024 * 1024 + 4099);
        const int stallAfter = 300_000;
        await using var lacking = await P2pNode.StartAsync("lacking");
        await using var stalling = new StallingNode("57a11ed0-0000-4000-8000-000000000001", content.Bytes, stallAfter, stalls: 1);
        await using var edge = await EdgeHost.StartAsync(ClusterConfig([("stalling", stalling.Uuid, stalling.Url, 10)], lacking, realCost: 100));

        var download = await ClientDownload.GetAsync($"{edge.Url}/git-annex/{ClusterUuid}/v4/key/{content.Key}?clientuuid={ClientUuid}", ct);

        var what = $"{download}\n--- edge\n{edge.Logs}";
        Assert.True(download.Error is null, "the download failed: " + what);
        Assert.Equal(content.Length, download.BytesRead);
        Assert.Equal(SHA256.HashData(content.Bytes), download.Sha256);
        Assert.Equal(new[] { 0L, stallAfter }, stalling.KeyRequestOffsets);
        await edge.EventAsync(EdgeEventIds.ClusterDownloadResumed, e => e.Text("Node") == "stalling" && e.Number("Offset") == stallAfter);
        await edge.RequestEventAsync("GET", "/key/" + content.Key);
        Assert.DoesNotContain(edge.Events.All, e => e.EventId() == EdgeEventIds.ClusterDownloadFailed);
    }

    [Fact]
    public async Task Download_whose_every_holder_stalls_cuts_the_clients_connection_instead_of_hanging()
    {
        var ct = TestContext.Current.CancellationToken;
        var content = TestObject.Random(1024 * 1024 + 4099);
        const int firstStallsAfter = 150_000;
        const int secondStallsAfter = 100_000;
        // The real node is a node of the cluster too, but does not have the key (p2phttp answers an empty 200).
        await using var real = await P2pNode.StartAsync("lacking");
        await using var first = new StallingNode("57a11ed0-0000-4000-8000-000000000001", content.Bytes, firstStallsAfter);
        await using var second = new StallingNode("57a11ed0-0000-4000-8000-000000000002", content.Bytes, secondStallsAfter);
        await using var edge = await EdgeHost.StartAsync(ClusterConfig(
            [("stalling1", first.Uuid, first.Url, 10), ("stalling2", second.Uuid, second.Url, 20)], real, realCost: 100));

        var download = await ClientDownload.GetAsync($"{edge.Url}/git-annex/{ClusterUuid}/v4/key/{content.Key}?clientuuid={ClientUuid}", ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"client's read ended after {download.Elapsed}: {download.Error?.GetType().Name} {download.Error?.Message}");

        var what = $"{download}\n--- edge\n{edge.Logs}";
        Assert.False(download.TimedOut, "the client was left hanging: " + what);
        Assert.True(download.Error is HttpRequestException or IOException, "the client's read did not fail: " + what);
        Assert.Equal(HttpStatusCode.OK, download.Status);
        // Each node stalls twice: first1, second1, then (a second try each, as they made progress) first2, second2.
        const int sentInAll = 2 * (firstStallsAfter + secondStallsAfter);
        // At most what the stalling nodes sent (the cut may drop some of it unread), never the whole object.
        Assert.InRange(download.BytesRead, 0, sentInAll);
        Assert.True(download.Elapsed < TimeSpan.FromSeconds(25), "cut only after " + download.Elapsed);

        // Each stalling node was given its ActivityTimeout, each continued where the other stopped, and each was
        // asked twice at most.
        Assert.Equal(new[] { 0L, firstStallsAfter + secondStallsAfter }, first.KeyRequestOffsets);
        Assert.Equal(new[] { (long)firstStallsAfter, 2 * firstStallsAfter + secondStallsAfter }, second.KeyRequestOffsets);
        Assert.True(download.Elapsed >= ActivityTimeout * 3.5, "the stalls were not waited for: " + what);
        await edge.EventAsync(EdgeEventIds.ClusterDownloadResumed, e => e.Text("Node") == "stalling2" && e.Number("Offset") == firstStallsAfter);
        // The failure is the download's last word: no node is tried after it.
        await edge.EventAsync(EdgeEventIds.ClusterDownloadFailed, e => e.Text("Key") == content.Key
            && e.Number("Sent") == sentInAll && e.Number("Total") == content.Length);
        Assert.DoesNotContain(edge.Events.All, e => e.EventId() == EdgeEventIds.ClusterDownloadResumed && e.Text("Node") == real.Name);

        await first.HungUp.WaitAsync(TimeSpan.FromSeconds(10), ct);
        await second.HungUp.WaitAsync(TimeSpan.FromSeconds(10), ct);
    }

    /// <summary>
    /// An edge that is the gateway of one cluster: the fake nodes and the real one, each with its cost, anonymous
    /// full access (<see cref="EdgeHost"/>'s default), a short ActivityTimeout.
    /// </summary>
    private static JsonObject ClusterConfig(
        IReadOnlyList<(string Name, string Uuid, string Url, double Cost)> fakes, P2pNode real, double realCost)
    {
        var config = EdgeHost.ConfigFor(real);
        config["Uuid"] = EdgeUuid;
        var repositories = config["Repositories"]!.AsArray();
        repositories[0]!["Cost"] = realCost;
        foreach (var fake in fakes)
        {
            repositories.Add(new JsonObject
            {
                ["Name"] = fake.Name,
                ["Uuid"] = fake.Uuid,
                ["Backends"] = new JsonArray((JsonNode)JsonValue.Create(fake.Url)),
                ["Cost"] = fake.Cost,
            });
        }

        config["Clusters"] = new JsonArray(new JsonObject
        {
            ["Name"] = "stallcluster",
            ["Uuid"] = ClusterUuid,
            ["Nodes"] = new JsonArray(fakes.Select(f => f.Name).Append(real.Name).Select(n => (JsonNode)JsonValue.Create(n)).ToArray()),
        });
        config["Forwarding"] = new JsonObject { ["ActivityTimeout"] = ActivityTimeout.ToString("c", CultureInfo.InvariantCulture) };
        return config;
    }

    /// <summary>Puts the content into the node's repository with git-annex itself, as a client storing it there would.</summary>
    private static async Task AddLocallyAsync(P2pNode node, TestObject content)
    {
        await File.WriteAllBytesAsync(Path.Combine(node.RepositoryPath, "object.bin"), content.Bytes);
        (await node.GitAsync("annex", "add", "-q", "object.bin")).EnsureSuccess("git annex add");
        Assert.Equal(content.Key, (await node.GitAsync("annex", "lookupkey", "object.bin")).Output.Trim());

        // Once straight from the node, waiting out a stall of that first answer (p2phttp's own, see GetContentAsync):
        // a stall of the real node is not what these tests are about.
        var direct = await P2pHttp.GetContentAsync(
            $"{node.Url}/git-annex/{node.Uuid}/v3/key/{content.Key}?clientuuid={ClientUuid}", TestContext.Current.CancellationToken);
        Assert.Equal(content.Bytes, direct);
    }
}
