using System.Diagnostics;
using System.Security.Cryptography;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests;

/// <summary>Objects stream through the edge: neither memory nor disk of the edge grows with their size.</summary>
[Trait("Category", "Slow")]
public sealed class StreamingMemoryTests
{
    private const long Size = 1L << 30;
    private const long MaxRssGrowth = 150L * 1024 * 1024;
    private const long BigFile = 1024 * 1024;

    [Fact]
    public async Task A_1_GiB_object_goes_up_and_down_through_the_edge_without_buffering()
    {
        var cancel = TestContext.Current.CancellationToken;
        await using var node = await P2pNode.StartAsync("node1");
        using var edgeTemp = new TempDirectory("edge-tmp");
        // The edge's temporary files (ASP.NET Core buffers bodies there when it buffers) go where the test looks.
        await using var edge = await EdgeProcess.StartAsync(
            StallsCutEarly(EdgeProcess.ConfigFor(node)), new Dictionary<string, string> { ["TMPDIR"] = edgeTemp.Path, ["ASPNETCORE_TEMP"] = edgeTemp.Path });
        using var source = new TempDirectory("source");
        var (path, key) = await RandomFile.WriteAsync(source.Combine("object.bin"), Size, cancel);
        var api = P2pHttp.Api(edge.Url, node.Uuid);
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };

        // Lets start-up allocations settle before the baseline (not a wait for a condition: a later baseline only
        // makes the measured growth smaller, so this pause cannot hide a failure).
        await Task.Delay(500, cancel);
        var idle = edge.ResidentBytes();
        using var watch = new EdgeWatch(edge);
        var clock = Stopwatch.StartNew();

        await using (var file = File.OpenRead(path))
        {
            var content = new StreamContent(file, 1024 * 1024);
            content.Headers.Add("X-git-annex-data-length", Size.ToString());
            using var put = await http.PostAsync($"{api}/v4/put?key={key}&clientuuid={P2pHttp.ClientUuid}", content, cancel);
            Assert.Equal("{\"plusuuids\":[],\"stored\":true}", await put.Content.ReadAsStringAsync(cancel));
        }

        var uploaded = clock.Elapsed;
        string downloaded;
        try
        {
            downloaded = await DownloadHashAsync(http, api, key, cancel);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            // git-annex's p2phttp (10.20250416) now and then stops the first GET of a key it has just stored a few
            // bytes before its end, direct or through any proxy; the edge cuts the client at ActivityTimeout rather
            // than end a short body as whole. That stall is not what this test measures: once more, and the logs.
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"the first download failed after {clock.Elapsed}: {e.Message}\n--- edge\n{edge.Logs}\n--- node\n{node.Logs}");
            clock.Restart();
            try
            {
                downloaded = await DownloadHashAsync(http, api, key, cancel);
            }
            catch (Exception again) when (again is IOException or HttpRequestException)
            {
                // Which side stopped (the node or the edge) shows only in their logs.
                throw new IOException($"the download failed twice, the second time after {clock.Elapsed}: {again.Message}\n--- edge\n{edge.Logs}\n--- node\n{node.Logs}", again);
            }

            uploaded = TimeSpan.Zero;
        }

        var report = watch.Stop();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"1 GiB up in {uploaded.TotalSeconds:0.0} s, up and down in {clock.Elapsed.TotalSeconds:0.0} s; edge RSS idle {idle / 1048576} MiB, peak {report.PeakRss / 1048576} MiB");
        Assert.Equal(key[(key.LastIndexOf('-') + 1)..], downloaded);
        Assert.True(report.PeakRss - idle < MaxRssGrowth,
            $"edge RSS grew by {(report.PeakRss - idle) / 1048576} MiB (idle {idle / 1048576} MiB, peak {report.PeakRss / 1048576} MiB)");
        Assert.True(report.BigOpenFiles.Count == 0, "the edge opened big files: " + string.Join(", ", report.BigOpenFiles));
        var written = BigFiles(edgeTemp.Path).Concat(BigFiles(edge.DirectoryPath)).ToArray();
        Assert.True(written.Length == 0, "big files under the edge's directories: " + string.Join(", ", written));
        // After a stalled first download, the clock measured the second one alone (uploaded is then 0).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"up {uploaded.TotalSeconds:0.0} s, total {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>A node's stall (below) is cut after 30 s rather than the default 2 minutes.</summary>
    private static System.Text.Json.Nodes.JsonObject StallsCutEarly(System.Text.Json.Nodes.JsonObject config)
    {
        config["Forwarding"] = new System.Text.Json.Nodes.JsonObject { ["ActivityTimeout"] = "00:00:30" };
        return config;
    }

    /// <summary>GETs the key through the edge and hashes the body as it streams.</summary>
    private static async Task<string> DownloadHashAsync(HttpClient http, string api, string key, CancellationToken cancel)
    {
        using var get = await http.GetAsync($"{api}/v4/key/{key}?clientuuid={P2pHttp.ClientUuid}", HttpCompletionOption.ResponseHeadersRead, cancel);
        Assert.Equal(Size.ToString(), get.Headers.GetValues("X-git-annex-data-length").Single());
        await using var body = await get.Content.ReadAsStreamAsync(cancel);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(body, cancel));
    }


    private static IEnumerable<string> BigFiles(string dir) =>
        new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Where(f => f.Length >= BigFile).Select(f => f.FullName);

    /// <summary>
    /// Samples the edge every 100 ms: its resident memory, and the regular files it holds open that are 1 MiB or
    /// more (a temporary file shows up here even when it was deleted at once, which a directory scan would miss).
    /// </summary>
    private sealed class EdgeWatch : IDisposable
    {
        private readonly EdgeProcess _edge;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly HashSet<string> _bigOpenFiles = [];
        private long _peakRss;

        public EdgeWatch(EdgeProcess edge)
        {
            _edge = edge;
            _loop = Task.Run(LoopAsync);
        }

        public (long PeakRss, IReadOnlyCollection<string> BigOpenFiles) Stop()
        {
            _stop.Cancel();
            _loop.Wait();
            return (_peakRss, _bigOpenFiles);
        }

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }

        private async Task LoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                _peakRss = Math.Max(_peakRss, _edge.ResidentBytes());
                foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{_edge.Pid}/fd"))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target is not null && target.StartsWith('/') && !target.StartsWith("/dev/") && !target.StartsWith("/proc/")
                        && SizeOf(fd) >= BigFile && !target.EndsWith(".dll") && !target.EndsWith(".so"))
                    {
                        _bigOpenFiles.Add(target);
                    }
                }

                try
                {
                    await Task.Delay(100, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        private static long SizeOf(string fd)
        {
            try
            {
                return new FileInfo(fd).Length;
            }
            catch (IOException)
            {
                return 0;
            }
        }
    }
}
