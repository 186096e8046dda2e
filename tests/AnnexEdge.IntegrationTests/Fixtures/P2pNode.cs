
namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// A real git-annex repository served by one or more <c>git annex p2phttp</c> processes on loopback
/// (several processes on one repository are replicas). Made with git-annex's own commands.
/// </summary>
public sealed class P2pNode : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private readonly TempDirectory _dir;
    private readonly List<(int Port, BackgroundProcess Process, string[] Args)> _servers = [];

    private P2pNode(string name, TempDirectory dir, string uuid, int jobs)
    {
        Name = name;
        _dir = dir;
        Uuid = uuid;
        Jobs = jobs;
    }

    public string Name { get; }

    /// <summary>The <c>--jobs</c> of the node's p2phttp processes (the edge's lock budget follows it).</summary>
    public int Jobs { get; }

    public string Uuid { get; }

    /// <summary>The repository's working tree.</summary>
    public string RepositoryPath => _dir.Combine(Name);

    /// <summary>Base URLs of the running p2phttp processes, in start order.</summary>
    public IReadOnlyList<string> Urls => _servers.Select(s => $"http://127.0.0.1:{s.Port}").ToArray();

    public string Url => Urls[0];

    public string Logs => string.Join("\n", _servers.Select(s => $"--- p2phttp :{s.Port}\n{s.Process.Output}"));

    /// <summary>The output of one p2phttp process (with <c>--debug</c>, the P2P messages it exchanged).</summary>
    public string ServerLog(int index) => _servers[index].Process.Output;

    /// <summary>Creates the repository and starts one p2phttp on it.</summary>
    /// <param name="p2phttpArgs">Extra options for p2phttp; default <c>--wideopen</c>.</param>
    public static async Task<P2pNode> StartAsync(string name, int jobs = 4, params string[] p2phttpArgs)
    {
        await GitAnnex.RequireAsync();
        var dir = new TempDirectory("node-" + name);
        var repo = dir.Combine(name);
        (await ProcessRunner.RunAsync("git", ["init", "-q", "-b", "main", repo])).EnsureSuccess("git init");
        (await ProcessRunner.RunAsync("git", ["annex", "init", "-q", name], repo)).EnsureSuccess("git annex init");
        (await ProcessRunner.RunAsync("git", ["config", "receive.denyCurrentBranch", "updateInstead"], repo)).EnsureSuccess("git config");
        var uuid = (await ProcessRunner.RunAsync("git", ["config", "annex.uuid"], repo)).EnsureSuccess("git config annex.uuid").Output.Trim();
        var node = new P2pNode(name, dir, uuid, jobs);
        await node.AddServerAsync(jobs, p2phttpArgs);
        return node;
    }

    /// <summary>Starts another p2phttp process on the same repository (a replica) and returns its base URL.</summary>
    public async Task<string> AddServerAsync(int jobs = 4, params string[] p2phttpArgs)
    {
        var port = FreePort.Next();
        string[] args = ["annex", "p2phttp", "--bind", "127.0.0.1", "--port", port.ToString(), "--jobs", jobs.ToString(),
            .. (p2phttpArgs.Length == 0 ? ["--wideopen"] : p2phttpArgs)];
        var process = new BackgroundProcess("git", args, RepositoryPath);
        _servers.Add((port, process, args));
        var url = $"http://127.0.0.1:{port}";
        await WaitUntilServingAsync(url, process);
        return url;
    }

    /// <summary>Kills one p2phttp process, as a crash would.</summary>
    public void KillServer(int index) => _servers[index].Process.Kill();

    /// <summary>
    /// Stops (SIGSTOP) or continues (SIGCONT) one p2phttp server: a hung node, whose kernel still holds its connections
    /// open. The signal goes to the <c>git</c> wrapper's children too, since <c>git annex</c> runs git-annex as one.
    /// </summary>
    public void SignalServer(int index, string signal)
    {
        var pid = _servers[index].Process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        ProcessRunner.RunAsync("pkill", ["-" + signal, "-P", pid], RepositoryPath).GetAwaiter().GetResult().EnsureSuccess("pkill -" + signal);
        ProcessRunner.RunAsync("kill", ["-" + signal, pid], RepositoryPath).GetAwaiter().GetResult().EnsureSuccess("kill -" + signal);
    }

    /// <summary>
    /// Files under <paramref name="directory"/> that one p2phttp server (the <c>git</c> wrapper and every process
    /// below it) has open now, from /proc.
    /// </summary>
    public IReadOnlyList<string> OpenFilesUnder(int index, string directory)
    {
        var parents = new Dictionary<int, int>();
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(proc), out var pid))
            {
                try
                {
                    // "pid (comm) state ppid ...": comm may hold spaces, so read after its closing parenthesis.
                    var stat = File.ReadAllText(Path.Combine(proc, "stat"));
                    parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                }
                catch (IOException)
                {
                    // The process ended as we looked.
                }
            }
        }

        var root = _servers[index].Process.Pid;
        bool Below(int pid)
        {
            for (var p = pid; p > 1; p = parents.GetValueOrDefault(p))
            {
                if (p == root)
                {
                    return true;
                }
            }

            return false;
        }

        var open = new List<string>();
        foreach (var pid in parents.Keys.Where(Below))
        {
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
                {
                    if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(directory, StringComparison.Ordinal))
                    {
                        open.Add(target);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended as we looked.
            }
        }

        return open;
    }

    /// <summary>Starts a killed p2phttp process again, same port and options, as a supervisor would restart it.</summary>
    public async Task RestartServerAsync(int index)
    {
        var (port, old, args) = _servers[index];
        old.Dispose();
        var process = new BackgroundProcess("git", args, RepositoryPath);
        _servers[index] = (port, process, args);
        await WaitUntilServingAsync($"http://127.0.0.1:{port}", process);
    }

    /// <summary>Runs git (annex) in the node's repository.</summary>
    public Task<ProcessRunner.Result> GitAsync(params string[] args) => ProcessRunner.RunAsync("git", args, RepositoryPath);

    /// <summary>Whether the node's repository holds the key's content (asks git-annex, not the network).</summary>
    public async Task<bool> HasKeyAsync(string key)
    {
        var result = await ProcessRunner.RunAsync("git", ["annex", "contentlocation", key], RepositoryPath);
        return result.ExitCode == 0 && result.Output.Trim().Length > 0;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, process, _) in _servers)
        {
            process.Dispose();
        }

        await Task.Yield();
        _dir.Dispose();
    }

    private async Task WaitUntilServingAsync(string url, BackgroundProcess process)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"p2phttp for {Name} exited:\n{process.Output}");
            }

            try
            {
                using var response = await Http.PostAsync(
                    $"{url}/git-annex/{Uuid}/v4/gettimestamp?clientuuid=00000000-0000-4000-8000-000000000001", null);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"p2phttp for {Name} at {url} did not answer:\n{process.Output}");
    }
}
