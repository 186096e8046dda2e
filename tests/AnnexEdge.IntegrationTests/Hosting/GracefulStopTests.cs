using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Clusters;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.IntegrationTests.Locking;

namespace AnnexEdge.IntegrationTests.Hosting;

/// <summary>
/// SIGTERM to the edge process, as systemd and Docker stop it, in front of a real p2phttp node: transfers in flight
/// finish within <c>Shutdown:GracePeriod</c>, nothing new is accepted, locks the edge holds are released at the node,
/// and whatever is left at the end of the period (or at a second SIGTERM) is cut so its client sees an error.
/// </summary>
public sealed class GracefulStopTests
{
    private const long BigSize = 512L * 1024 * 1024;
    private const long CutSize = 128L * 1024 * 1024;

    [Fact]
    public async Task Sigterm_lets_a_512_MiB_download_finish_refuses_new_connections_releases_the_edges_locks_and_exits_0()
    {
        var ct = TestContext.Current.CancellationToken;
        // --jobs 8: three lock slots, and workers left for the download while two locks are held.
        await using var node = await P2pNode.StartAsync("stop", jobs: 8);
        var content = await StoreAsync(node, BigSize, seed: 16);
        var keys = await LockClients.StoreKeysAsync(node, 2);
        var config = EdgeProcess.ConfigFor(node);
        config["Shutdown"] = new JsonObject { ["GracePeriod"] = "00:01:00" };
        config["Locking"]!["MaxShareOfSlots"] = 1;
        await using var edge = await EdgeProcess.StartAsync(config);
        var api = P2pHttp.Api(edge.Url, node.Uuid);

        // One lock whose client has not sent keeplocked yet, one kept by a keeplocked relayed through the edge.
        await P2pHttp.LockAsync(api, keys[0]);
        var keptLock = await P2pHttp.LockAsync(api, keys[1]);
        await using var keepLocked = KeepLockedSession.Open(api, keptLock);
        await ContentLock.AssertHeldAsync(node, keys[0]);
        await ContentLock.AssertHeldAsync(node, keys[1]);

        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        using var get = await http.GetAsync(KeyUrl(api, content.Key), HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(BigSize.ToString(), get.Headers.GetValues("X-git-annex-data-length").Single());
        await using var body = await get.Content.ReadAsStreamAsync(ct);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var received = await ReadAsync(body, hash, 16 * 1024 * 1024, ct);

        var stopping = Stopwatch.StartNew();
        edge.Signal("TERM");
        await edge.LogLineAsync("Stopping: no new connections");
        // The download waits (its client reads nothing) until the edge refuses new connections.
        await Eventually.Async(() => RefusesConnectionAsync(edge.Port), TimeSpan.FromSeconds(20), "the stopping edge refuses new connections", () => edge.Logs);

        try
        {
            received += await ReadAsync(body, hash, long.MaxValue, ct);
        }
        catch (IOException e)
        {
            // Seen once in CI: cut when the grace period ended. git-annex 10.20250416's p2phttp now and then stops
            // a GET short of its end (bench/README.md), and a repository's download is not resumed (a cluster's is).
            throw new InvalidOperationException(
                $"the download was cut {stopping.Elapsed} after SIGTERM, {received} bytes in before it, {e.Message}:\n{edge.Logs}", e);
        }

        Assert.Equal(BigSize, received);
        Assert.Equal(content.Sha256, hash.GetHashAndReset());
        Assert.Equal(0, await edge.ExitCodeAsync(TimeSpan.FromSeconds(30)));
        Assert.True(stopping.Elapsed < TimeSpan.FromMinutes(1), $"stopped after {stopping.Elapsed}, beyond the grace period");
        Assert.Contains("every request in flight finished", edge.Logs);

        // The node lets go of both locks now, not at the end of their 10-minute lifetime.
        await ContentLock.AssertReleasedByDroppingAsync(node, keys[0]);
        await ContentLock.AssertReleasedByDroppingAsync(node, keys[1]);
        Assert.Contains($"unlocked {keys[0]} at backend", edge.Logs);
    }

    [Fact]
    public async Task A_download_still_going_when_the_grace_period_ends_is_cut_so_its_client_sees_an_error()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var node = await P2pNode.StartAsync("cut");
        var content = await StoreAsync(node, CutSize, seed: 17);
        var config = EdgeProcess.ConfigFor(node);
        config["Shutdown"] = new JsonObject { ["GracePeriod"] = "00:00:03" };
        await using var edge = await EdgeProcess.StartAsync(config);

        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        using var get = await StartDownloadAsync(http, P2pHttp.Api(edge.Url, node.Uuid), content.Key, ct);
        var body = await get.Content.ReadAsStreamAsync(ct);
        // The client reads its first MiB and then nothing, so the download is still going when the period ends.
        var received = await ReadAsync(body, null, 1024 * 1024, ct);

        var stopping = Stopwatch.StartNew();
        edge.Signal("TERM");
        // Well before the host's default 30 s shutdown timeout.
        var exitCode = await edge.ExitCodeAsync(TimeSpan.FromSeconds(20));

        await AssertCutAsync(body, received, ct);
        Assert.Equal(0, exitCode);
        Assert.True(stopping.Elapsed >= TimeSpan.FromSeconds(3), $"cut after {stopping.Elapsed}, before the grace period ended");
        Assert.Contains("the grace period is over", edge.Logs);
    }

    [Fact]
    public async Task A_second_sigterm_cuts_what_is_in_flight_at_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var node = await P2pNode.StartAsync("cut2");
        var content = await StoreAsync(node, CutSize, seed: 18);
        var config = EdgeProcess.ConfigFor(node);
        config["Shutdown"] = new JsonObject { ["GracePeriod"] = "00:05:00" };
        await using var edge = await EdgeProcess.StartAsync(config);

        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        using var get = await StartDownloadAsync(http, P2pHttp.Api(edge.Url, node.Uuid), content.Key, ct);
        var body = await get.Content.ReadAsStreamAsync(ct);
        var received = await ReadAsync(body, null, 1024 * 1024, ct);

        edge.Signal("TERM");
        await edge.LogLineAsync("Stopping: no new connections");
        edge.Signal("TERM");
        // Well within the five minutes of grace.
        var exitCode = await edge.ExitCodeAsync(TimeSpan.FromSeconds(30));

        await AssertCutAsync(body, received, ct);
        Assert.Equal(0, exitCode);
        Assert.Contains("a second SIGTERM came", edge.Logs);
    }

    /// <summary>Stores generated content on the node and reads it once there (see <see cref="WarmUpAsync"/>).</summary>
    private static async Task<GeneratedContent> StoreAsync(P2pNode node, long size, int seed)
    {
        var content = new GeneratedContent(size, seed);
        var api = P2pHttp.Api(node.Url, node.Uuid);
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        var body = content.Body();
        body.Headers.Add("X-git-annex-data-length", size.ToString());
        using var put = await http.PostAsync($"{api}/v4/put?key={content.Key}&clientuuid={P2pHttp.ClientUuid}", body, TestContext.Current.CancellationToken);
        Assert.Contains("\"stored\":true", await put.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        await WarmUpAsync(api, content.Key);
        return content;
    }

    /// <summary>
    /// git-annex 10.20250416's p2phttp now and then stops the first GET of a key it has just stored a few bytes before
    /// its end (bench/README.md); that GET is made here, straight to the node, so the one through the edge is not it.
    /// </summary>
    private static async Task WarmUpAsync(string nodeApi, string key)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            cts.CancelAfter(TimeSpan.FromSeconds(30));
            try
            {
                using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
                using var get = await http.GetAsync(KeyUrl(nodeApi, key), HttpCompletionOption.ResponseHeadersRead, cts.Token);
                await (await get.Content.ReadAsStreamAsync(cts.Token)).CopyToAsync(Stream.Null, cts.Token);
                return;
            }
            catch (Exception e) when (attempt < 3 && e is OperationCanceledException or IOException or HttpRequestException)
            {
            }
        }
    }

    /// <summary>A download of the key through the edge, its head read (and its announced length checked).</summary>
    private static async Task<HttpResponseMessage> StartDownloadAsync(HttpClient http, string api, string key, CancellationToken ct)
    {
        var get = await http.GetAsync(KeyUrl(api, key), HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(CutSize.ToString(), get.Headers.GetValues("X-git-annex-data-length").Single());
        return get;
    }

    /// <summary>The rest of the body ends in an error (an aborted connection), short of the announced length.</summary>
    private static async Task AssertCutAsync(Stream body, long received, CancellationToken ct)
    {
        var error = await Record.ExceptionAsync(async () => received += await ReadAsync(body, null, long.MaxValue, ct));
        Assert.True(error is IOException or HttpRequestException, $"the cut download ended with {error?.GetType().Name ?? "no error"} after {received} bytes");
        Assert.True(received < CutSize, $"received {received} of {CutSize} bytes");
    }

    /// <summary>
    /// Reads up to <paramref name="limit"/> bytes (or to the end), hashing them if asked; returns how many. A read that
    /// fails says in its <see cref="IOException"/> how many it had read.
    /// </summary>
    private static async Task<long> ReadAsync(Stream body, IncrementalHash? hash, long limit, CancellationToken ct)
    {
        var buffer = new byte[1024 * 1024];
        long total = 0;
        while (total < limit)
        {
            int n;
            try
            {
                n = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limit - total)), ct);
            }
            catch (IOException e)
            {
                throw new IOException($"{e.Message} (after {total} bytes of this read)", e);
            }

            if (n == 0)
            {
                break;
            }

            hash?.AppendData(buffer, 0, n);
            total += n;
        }

        return total;
    }

    private static async Task<bool> RefusesConnectionAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port, TestContext.Current.CancellationToken);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Queued on the listener as it closed (seen under load): ask again, the next connect is refused.
            return false;
        }
    }

    private static string KeyUrl(string api, string key) => $"{api}/v4/key/{key}?clientuuid={P2pHttp.ClientUuid}";
}
