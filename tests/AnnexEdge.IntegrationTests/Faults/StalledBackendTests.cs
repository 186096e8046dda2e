using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>
/// A repository's download whose backend stalls midway: it sends part of the object, then nothing, the connection
/// kept open, as git-annex 10.20250416's p2phttp now and then does a few KiB short of a GET's end. The edge asks the
/// backend again from the byte reached once <c>Forwarding:StallTimeout</c> has passed, long before the client's
/// <c>Forwarding:ActivityTimeout</c> (2 min here, the default), and the client gets one whole body. The stalling
/// backend is a scripted fake (<see cref="StallingNode"/>): a real p2phttp stalls too rarely to be made to.
/// </summary>
public sealed class StalledBackendTests
{
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(1);

    private static JsonObject Config(StallingNode node) =>
        FaultEdge.ConfigFor(new JsonObject { ["StallTimeout"] = StallTimeout.ToString("c") }, node.Url);

    private static string KeyUrl(EdgeHost edge, TestObject content) =>
        $"{edge.Url}/git-annex/{FaultEdge.Uuid}/v4/key/{content.Key}?clientuuid={FaultEdge.ClientUuid}";

    [Fact]
    public async Task Download_whose_backend_stalls_near_its_end_is_finished_by_asking_it_again_from_the_byte_reached()
    {
        var ct = TestContext.Current.CancellationToken;
        var content = TestObject.Random((1024 * 1024) + 4099);
        var stallAfter = content.Bytes.Length - 24_576;
        await using var node = new StallingNode(FaultEdge.Uuid, content.Bytes, stallAfter, stalls: 1);
        await using var edge = await EdgeHost.StartAsync(Config(node));

        var download = await ClientDownload.GetAsync(KeyUrl(edge, content), ct);

        var what = $"{download}\n--- edge\n{edge.Logs}";
        Assert.True(download.Error is null, "the download failed: " + what);
        Assert.Equal(HttpStatusCode.OK, download.Status);
        Assert.Equal(content.Bytes.Length, download.BytesRead);
        Assert.Equal(SHA256.HashData(content.Bytes), download.Sha256);
        Assert.Equal([0L, stallAfter], node.KeyRequestOffsets);

        // About the stall timeout, nowhere near the activity timeout.
        Assert.True(download.Elapsed < TimeSpan.FromSeconds(20), "finished only after " + download.Elapsed);
        await edge.EventAsync(EdgeEventIds.DownloadContinued, e => e.Text("Key") == content.Key && e.Number("Offset") == stallAfter);
        await edge.RequestEventAsync("GET", "/key/" + content.Key, status: 200);
        Assert.DoesNotContain(edge.Events.All, e => e.EventId() == EdgeEventIds.DownloadNotContinued);

        // And it let go of the stalled connection.
        await node.HungUp.WaitAsync(TimeSpan.FromSeconds(10), ct);
    }

    [Fact]
    public async Task Download_whose_backend_stalls_after_every_part_arrives_whole_part_by_part()
    {
        // The last part brings the rest of the object but never the end of its chunked framing: the data length
        // is met, so the body is whole.
        var ct = TestContext.Current.CancellationToken;
        var content = TestObject.Random((1024 * 1024) + 4099);
        await using var node = new StallingNode(FaultEdge.Uuid, content.Bytes, stallAfter: 300_000);
        await using var edge = await EdgeHost.StartAsync(Config(node));

        var download = await ClientDownload.GetAsync(KeyUrl(edge, content), ct);

        var what = $"{download}\n--- edge\n{edge.Logs}";
        Assert.True(download.Error is null, "the download failed: " + what);
        Assert.Equal(content.Bytes.Length, download.BytesRead);
        Assert.Equal(SHA256.HashData(content.Bytes), download.Sha256);
        Assert.Equal([0L, 300_000L, 600_000L, 900_000L], node.KeyRequestOffsets);
        await edge.RequestEventAsync("GET", "/key/" + content.Key, status: 200);
    }
}
