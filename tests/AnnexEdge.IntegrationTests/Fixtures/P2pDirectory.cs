using System.Net.Sockets;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// A directory of git-annex repositories served by one real <c>git annex p2phttp --directory</c> process on loopback,
/// as an operator runs it for an edge's <c>Directories</c> entry in external mode.
/// </summary>
public sealed class P2pDirectory : IAsyncDisposable
{
    private readonly TempDirectory _dir = new("p2pdir");
    private readonly int _port = FreePort.Next();
    private BackgroundProcess? _process;

    private P2pDirectory()
    {
    }

    public string Path => _dir.Path;

    public string Url => $"http://127.0.0.1:{_port}";

    public string Logs => _process?.Output ?? "";

    public static async Task<P2pDirectory> StartAsync()
    {
        await GitAnnex.RequireAsync();
        var directory = new P2pDirectory();
        await directory.RestartAsync();
        return directory;
    }

    /// <summary>Makes a git-annex repository in the directory (non-bare, one commit) and returns its annex.uuid.</summary>
    public Task<string> CreateRepositoryAsync(string name) => CreateRepositoryAsync(_dir.Path, name);

    /// <summary>Makes a git-annex repository <paramref name="name"/> in <paramref name="directory"/> (non-bare, one commit) and returns its annex.uuid.</summary>
    public static async Task<string> CreateRepositoryAsync(string directory, string name)
    {
        var repo = System.IO.Path.Combine(directory, name);
        (await ProcessRunner.RunAsync("git", ["init", "-q", "-b", "main", repo])).EnsureSuccess("git init");
        (await ProcessRunner.RunAsync("git", ["annex", "init", "-q", name], repo)).EnsureSuccess("git annex init");
        await File.WriteAllTextAsync(System.IO.Path.Combine(repo, "README"), $"This is {name}.\n");
        (await ProcessRunner.RunAsync("git", ["add", "README"], repo)).EnsureSuccess("git add");
        (await ProcessRunner.RunAsync("git", ["commit", "-q", "-m", "README"], repo)).EnsureSuccess("git commit");
        return (await ProcessRunner.RunAsync("git", ["config", "annex.uuid"], repo)).EnsureSuccess("git config annex.uuid").Output.Trim();
    }

    /// <summary>
    /// (Re)starts the p2phttp process on the same port: what external backends need after a repository is added,
    /// since a running <c>p2phttp --directory</c> (10.20250416) may not serve one made after it started.
    /// </summary>
    public async Task RestartAsync()
    {
        if (_process is { } old)
        {
            old.Kill();
            old.Dispose();
            // The kill returns when git exits; its git-annex child may hold the port a moment longer, and the check
            // below, answered by the dying process, would call the new one listening before it is (a CI run's edge
            // then found the port refused and took the repository out of rotation).
            await Eventually.Async(async () => !await AcceptsAsync(), TimeSpan.FromSeconds(10), "the old p2phttp --directory gone", () => Logs);
        }

        _process = new BackgroundProcess(
            "git", ["annex", "p2phttp", "--directory", _dir.Path, "--bind", "127.0.0.1", "--port", _port.ToString(), "--jobs", "4", "--wideopen"], _dir.Path);
        await Eventually.Async(AcceptsAsync, TimeSpan.FromSeconds(30), "p2phttp --directory listening", () => Logs);
    }

    private async Task<bool> AcceptsAsync()
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", _port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Kills the p2phttp process, as a crash would; <see cref="RestartAsync"/> brings it back on the same port.</summary>
    public void Kill()
    {
        _process?.Kill();
        _process?.Dispose();
        _process = null;
    }

    public ValueTask DisposeAsync()
    {
        _process?.Kill();
        _process?.Dispose();
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }
}
