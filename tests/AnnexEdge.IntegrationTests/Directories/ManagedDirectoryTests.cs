using System.Globalization;
using System.Text.Json.Nodes;
using AnnexEdge.Directories;
using AnnexEdge.IntegrationTests.Clusters;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using Microsoft.Extensions.DependencyInjection;

namespace AnnexEdge.IntegrationTests.Directories;

/// <summary>
/// <c>Directories</c> with <c>Manage</c>: the edge runs <c>git-annex p2phttp --directory</c> itself, real processes
/// throughout. Repositories that appear are served by a fresh p2phttp while the replaced one finishes what it has
/// in flight; a crashed one is started again; none is left when the edge stops.
/// </summary>
public sealed class ManagedDirectoryTests
{
    /// <summary>As the issue asks: a transfer of the size users make, streamed from a seed (nothing held in memory).</summary>
    private const long Size = 1L << 30;
    private const long PauseAt = 64L * 1024 * 1024;

    [Fact]
    public async Task A_repository_made_while_the_edge_runs_is_served_within_10_s_and_a_removed_one_answers_404()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var directory = new TempDirectory("managed");
        var first = await P2pDirectory.CreateRepositoryAsync(directory.Path, "proj-a");
        await using var edge = await EdgeHost.StartAsync(Managed(directory.Path));
        var (data, key) = P2pHttp.RandomObject(100_000);
        Assert.Equal(200, (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, first), "checkpresent", key), cancellationToken: cancel)).Status);

        var uuid = await P2pDirectory.CreateRepositoryAsync(directory.Path, "proj-b");
        var api = P2pHttp.Api(edge.Url, uuid);
        await Eventually.Async(
            async () => (await P2pHttp.PostAsync(P2pHttp.Url(api, "checkpresent", key), cancellationToken: cancel)).Status == 200,
            TimeSpan.FromSeconds(10), "proj-b served", () => edge.Logs);

        await P2pHttp.PutObjectAsync(api, key, data);
        Assert.True(await P2pHttp.IsPresentAsync(api, key), edge.Logs);
        Assert.Equal(data, await P2pHttp.GetContentAsync(P2pHttp.Url(api, "key/" + key), cancel));

        Directory.Delete(Path.Combine(directory.Path, "proj-b"), recursive: true);
        await edge.EventAsync(EdgeEventIds.DirectoryRepositoryRemoved, e => e.RenderMessage().Contains("proj-b", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Equal(404, (await P2pHttp.PostAsync(P2pHttp.Url(api, "checkpresent", key), cancellationToken: cancel)).Status);
        Assert.Equal(200, (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, first), "checkpresent", key), cancellationToken: cancel)).Status);
    }

    [Fact]
    public async Task A_1_GiB_upload_in_flight_finishes_on_the_replaced_p2phttp_which_stops_only_after_it()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var directory = new TempDirectory("managed");
        var a = await P2pDirectory.CreateRepositoryAsync(directory.Path, "proj-a");
        await using var edge = await EdgeHost.StartAsync(Managed(directory.Path));
        var managed = edge.Services.GetRequiredService<ManagedDirectories>();
        var old = Assert.Single(managed.Status());
        var oldPid = old.Pid!.Value;

        // The upload to proj-a stops a third of the way until proj-b is served by a fresh p2phttp.
        var content = new GeneratedContent(Size, seed: 14);
        var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var body = content.Body(async written =>
        {
            if (written == PauseAt)
            {
                paused.SetResult();
                await resume.Task;
            }
        });
        body.Headers.Add("X-git-annex-data-length", Size.ToString(CultureInfo.InvariantCulture));
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        var put = http.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, a), "put", content.Key), body, cancel);
        await paused.Task.WaitAsync(TimeSpan.FromSeconds(60), cancel);

        var b = await P2pDirectory.CreateRepositoryAsync(directory.Path, "proj-b");
        await Eventually.Async(
            async () => (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, b), "checkpresent", content.Key), cancellationToken: cancel)).Status == 200,
            TimeSpan.FromSeconds(10), "proj-b served", () => edge.Logs);
        Assert.Contains(managed.Status(), s => s.Pid is { } pid && pid != oldPid && s.State == "Running");

        // The replaced one has looked at what it serves, found the upload, and keeps running for it.
        await edge.EventAsync(EdgeEventIds.ManagedDraining, e => e.Number("Port") == old.Port, TimeSpan.FromSeconds(30));
        Assert.True(IsRunning(oldPid), "the replaced p2phttp stopped with an upload in flight\n" + edge.Logs);

        resume.SetResult();
        using (var answer = await put)
        {
            // p2phttp checks the key's SHA-256 before it answers stored: the bytes arrived whole and unchanged.
            Assert.Equal("{\"plusuuids\":[],\"stored\":true}", await answer.Content.ReadAsStringAsync(cancel));
        }

        await edge.EventAsync(EdgeEventIds.ManagedDrained, e => e.Number("Port") == old.Port, TimeSpan.FromSeconds(30));
        await Eventually.Async(() => !IsRunning(oldPid), TimeSpan.FromSeconds(30), "the replaced p2phttp exited", () => edge.Logs);
        Assert.DoesNotContain(edge.Events.All, e => e.EventId() is EdgeEventIds.ManagedDrainTimedOut or EdgeEventIds.ManagedKilled);
        Assert.True(await P2pHttp.IsPresentAsync(P2pHttp.Api(edge.Url, a), content.Key), edge.Logs);
    }

    [Fact]
    public async Task A_killed_managed_p2phttp_is_started_again_and_serves()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var directory = new TempDirectory("managed");
        var uuid = await P2pDirectory.CreateRepositoryAsync(directory.Path, "proj-a");
        await using var edge = await EdgeHost.StartAsync(Managed(directory.Path));
        var managed = edge.Services.GetRequiredService<ManagedDirectories>();
        var pid = Assert.Single(managed.Status()).Pid!.Value;
        var api = P2pHttp.Api(edge.Url, uuid);
        var key = P2pHttp.RandomObject(10).Key;

        // As a crash would: the edge did not ask for it.
        System.Diagnostics.Process.GetProcessById(pid).Kill();

        await edge.EventAsync(EdgeEventIds.ManagedExited, e => e.Number("Pid") == pid, TimeSpan.FromSeconds(10));
        await Eventually.Async(
            async () => managed.Status() is [{ Pid: { } now, Restarts: 1 }] && now != pid
                && (await P2pHttp.PostAsync(P2pHttp.Url(api, "checkpresent", key), cancellationToken: cancel)).Status == 200,
            TimeSpan.FromSeconds(15), "a new p2phttp serves proj-a", () => edge.Logs);
        var status = Assert.Single((await edge.StatusAsync())["managed"]!.AsArray())!;
        Assert.Equal(directory.Path, status["directory"]!.GetValue<string>());
        Assert.Equal(1, status["restarts"]!.GetValue<int>());
        Assert.Equal("Running", status["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Stopping_the_edge_leaves_no_managed_p2phttp_running()
    {
        using var directory = new TempDirectory("managed");
        await P2pDirectory.CreateRepositoryAsync(directory.Path, "proj-a");
        var edge = await EdgeHost.StartAsync(Managed(directory.Path));
        var pid = Assert.Single(edge.Services.GetRequiredService<ManagedDirectories>().Status()).Pid!.Value;
        Assert.True(IsRunning(pid));

        await edge.DisposeAsync();

        Assert.False(IsRunning(pid), $"p2phttp (pid {pid}) still runs after the edge stopped\n" + edge.Logs);
        Assert.Empty(ProcessesNaming(directory.Path));
        // It stopped on SIGTERM: no kill was needed.
        Assert.DoesNotContain(edge.Events.All, e => e.EventId() == EdgeEventIds.ManagedKilled);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_killed_edge_leaves_no_managed_p2phttp_running_and_its_port_free(bool wholeProcessGroup)
    {
        var cancel = TestContext.Current.CancellationToken;
        using var directory = new TempDirectory("managed");
        var uuid = await P2pDirectory.CreateRepositoryAsync(directory.Path, "proj-a");
        try
        {
            await using var edge = await EdgeProcess.StartAsync(Managed(directory.Path), ownProcessGroup: wholeProcessGroup);
            var key = P2pHttp.RandomObject(10).Key;
            Assert.Equal(200, (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, uuid), "checkpresent", key), cancellationToken: cancel)).Status);
            var status = Assert.Single(JsonNode.Parse(await P2pHttp.Http.GetStringAsync(edge.Url + "/_annexedge/status", cancel))!["managed"]!.AsArray())!;
            var pid = status["pid"]!.GetValue<int>();
            var port = status["port"]!.GetValue<int>();
            Assert.True(IsRunning(pid) && !FreePort.IsFree(port), edge.Logs);

            // The edge alone, as a crash or the out-of-memory killer would (its children are not signalled by anyone),
            // or its whole process group, as `kill -9 %1` in a shell would.
            if (wholeProcessGroup)
            {
                edge.SignalGroup("KILL");
            }
            else
            {
                edge.Signal("KILL");
            }

            await edge.ExitCodeAsync(TimeSpan.FromSeconds(10));

            await Eventually.Async(
                () => !IsRunning(pid) && ProcessesNaming(directory.Path).Count == 0 && FreePort.IsFree(port),
                TimeSpan.FromSeconds(20), $"the managed p2phttp (pid {pid}, port {port}) and its helpers are gone",
                () => string.Join('\n', ProcessesNaming(directory.Path).Select(p => $"{p}: {CommandLine(p)}")) + "\n" + edge.Logs);
        }
        finally
        {
            // Before the fix, what the test looks for would outlive it.
            foreach (var pid in ProcessesNaming(directory.Path))
            {
                try
                {
                    System.Diagnostics.Process.GetProcessById(pid).Kill();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                }
            }
        }
    }

    private static JsonObject Managed(string path) => new()
    {
        ["Repositories"] = new JsonArray(),
        ["Directories"] = new JsonArray(new JsonObject
        {
            ["Path"] = path,
            ["Manage"] = true,
            ["Jobs"] = 4,
            ["RescanInterval"] = "00:00:01",
        }),
    };

    /// <summary>Whether the process exists and is not a zombie.</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "(gone)";
        }
    }

    /// <summary>Live processes whose command line holds <paramref name="text"/>.</summary>
    private static List<int> ProcessesNaming(string text)
    {
        var found = new List<int>();
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(proc), out var pid) && pid != Environment.ProcessId)
            {
                try
                {
                    if (File.ReadAllText(Path.Combine(proc, "cmdline")).Contains(text, StringComparison.Ordinal) && IsRunning(pid))
                    {
                        found.Add(pid);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Ended as we looked.
                }
            }
        }

        return found;
    }
}
