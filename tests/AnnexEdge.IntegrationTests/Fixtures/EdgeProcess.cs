using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using System.Text.Json.Nodes;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// AnnexEdge run as operators run it: the built <c>AnnexEdge.dll</c> in its own process, with a JSON config
/// file and <c>--urls</c>. Its log is kept for failure messages, its memory is read from /proc.
/// </summary>
public sealed class EdgeProcess : IAsyncDisposable
{
    /// <summary>The lock token key of test edges (two edges with it accept each other's tokens).</summary>
    public const string TestTokenKey = "dGVzdC10b2tlbi1rZXktb2YtYW5uZXhlZGdlLXRlc3RzLTMyYnl0ZXM=";

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private readonly BackgroundProcess _process;
    private readonly TempDirectory _dir;

    private readonly string _scheme;
    private readonly HttpClient _http;

    private EdgeProcess(BackgroundProcess process, TempDirectory dir, int port, string? trustedCaFile = null)
    {
        _process = process;
        _dir = dir;
        Port = port;
        _scheme = trustedCaFile is null ? "http" : "https";
        _http = trustedCaFile is null ? Http : TrustingClient(trustedCaFile);
    }

    public int Port { get; }

    /// <summary>http://127.0.0.1:PORT (https for an edge serving HTTPS).</summary>
    public string Url => $"{_scheme}://127.0.0.1:{Port}";

    /// <summary>What a git-annex client puts in remote.NAME.annexUrl.</summary>
    public string AnnexUrl => $"annex+{Url}/git-annex/";

    public string Logs => _process.Output;

    /// <summary>Waits (up to 30 s, see <see cref="BackgroundProcess.LineAsync"/>) for a log line holding the text.</summary>
    public Task<string> LogLineAsync(string text) => _process.LineAsync(new Regex(Regex.Escape(text)));

    /// <summary>Waits (up to 30 s) for a log line matching the pattern.</summary>
    public Task<string> LogMatchAsync(string pattern) => _process.LineAsync(new Regex(pattern));

    public string ConfigPath => _dir.Combine("annexedge.json");

    public bool HasExited => _process.HasExited;

    public long ResidentBytes() => _process.ResidentBytes();

    /// <summary>The edge's process id (to look at its open files in /proc).</summary>
    public int Pid => _process.Pid;

    /// <summary>The edge's own directory (its config file; its working directory).</summary>
    public string DirectoryPath => _dir.Path;

    public void Kill() => _process.Kill();

    /// <summary>Sends the edge a signal (TERM: what systemd and Docker send to stop it).</summary>
    public void Signal(string signal) => _process.Signal(signal);

    /// <summary>Sends a signal to the edge's whole process group, as <c>kill -9 %1</c> in a shell does (started with <c>ownProcessGroup</c>).</summary>
    public void SignalGroup(string signal) => _process.SignalGroup(signal);

    /// <summary>Waits for the edge to exit and returns its exit code (fails the test after the deadline).</summary>
    public Task<int> ExitCodeAsync(TimeSpan deadline) => _process.ExitCodeAsync(deadline);

    /// <summary>An edge serving each node as a repository, with all of the node's p2phttp processes as backends.</summary>
    public static Task<EdgeProcess> StartAsync(params P2pNode[] nodes) => StartAsync(ConfigFor(nodes));

    /// <summary>The <c>AnnexEdge</c> section for the nodes; tests add or change settings before starting.</summary>
    public static JsonObject ConfigFor(params P2pNode[] nodes) => new()
    {
        ["Repositories"] = new JsonArray(nodes.Select(n => (JsonNode)new JsonObject
        {
            ["Name"] = n.Name,
            ["Uuid"] = n.Uuid,
            ["Jobs"] = n.Jobs,
            ["Backends"] = new JsonArray(n.Urls.Select(u => (JsonNode)JsonValue.Create(u)!).ToArray()),
        }).ToArray()),
        ["Locking"] = new JsonObject { ["TokenKey"] = TestTokenKey },
        ["HealthChecks"] = new JsonObject { ["Interval"] = "00:00:02", ["Timeout"] = "00:00:02", ["ReactivationPeriod"] = "00:00:05" },
    };

    /// <summary>
    /// Starts the edge with this <c>AnnexEdge</c> section and waits until it serves; with <paramref name="hangupIgnored"/>
    /// under <c>nohup</c>, as an operator's shell or a supervisor may start it (SIGHUP ignored from the start); with
    /// <paramref name="ownProcessGroup"/> under <c>setsid</c>, leading a process group as a shell's job does (see
    /// <see cref="SignalGroup"/>); with <paramref name="https"/> over HTTPS only, with that certificate (from
    /// <see cref="TestCa.Write"/>).
    /// </summary>
    public static async Task<EdgeProcess> StartAsync(
        JsonObject annexEdgeSection,
        IDictionary<string, string>? environment = null,
        bool hangupIgnored = false,
        bool ownProcessGroup = false,
        (string Ca, string Pem, string Key)? https = null)
    {
        var dir = new TempDirectory("edge");
        var configPath = await WriteConfigAsync(annexEdgeSection, dir);
        var port = FreePort.Next();
        string[] command = https is { } tls
            ? ["dotnet", EdgeBinary.Path, "--config", configPath, "--urls", $"https://127.0.0.1:{port}",
                $"--Kestrel:Certificates:Default:Path={tls.Pem}", $"--Kestrel:Certificates:Default:KeyPath={tls.Key}"]
            : ["dotnet", EdgeBinary.Path, "--config", configPath, "--urls", $"http://127.0.0.1:{port}"];
        if (hangupIgnored)
        {
            command = ["nohup", .. command];
        }

        if (ownProcessGroup)
        {
            command = ["setsid", .. command];
        }

        var process = new BackgroundProcess(command[0], command[1..], dir.Path, environment);
        var edge = new EdgeProcess(process, dir, port, https?.Ca);
        await edge.ServingOrDisposedAsync();
        return edge;
    }

    /// <summary>
    /// Starts the edge as systemd socket activation does, under <c>systemd-socket-activate</c>, which listens on a
    /// free loopback port itself and execs the edge (in its own process) on the first connection, passing the socket
    /// in <c>LISTEN_FDS</c> (named <paramref name="fdName"/> when given). No <c>--urls</c>: the socket is all it has.
    /// With <paramref name="trustedCaFile"/> the socket is named <c>https</c> and served over HTTPS, with the
    /// certificate the extra arguments give, which that CA issued.
    /// </summary>
    public static async Task<EdgeProcess> StartSocketActivatedAsync(
        JsonObject annexEdgeSection, string? fdName = null, string? trustedCaFile = null, params string[] extraArgs)
    {
        var dir = new TempDirectory("edge");
        var configPath = await WriteConfigAsync(annexEdgeSection, dir);
        var port = FreePort.Next();
        string[] args = ["-l", $"127.0.0.1:{port}", .. (fdName is null ? Array.Empty<string>() : [$"--fdname={fdName}"]),
            "dotnet", EdgeBinary.Path, "--config", configPath, .. extraArgs];
        var process = new BackgroundProcess("systemd-socket-activate", args, dir.Path);
        var edge = new EdgeProcess(process, dir, port, trustedCaFile);
        await edge.ServingOrDisposedAsync();
        return edge;
    }

    /// <summary>
    /// Writes the config file of a test edge (process or <see cref="EdgeHost"/>) into the directory and returns its
    /// path: the <c>AnnexEdge</c> section, open to anonymous clients unless it says who may do what.
    /// </summary>
    internal static async Task<string> WriteConfigAsync(JsonObject annexEdgeSection, TempDirectory dir)
    {
        var section = annexEdgeSection.DeepClone().AsObject();
        if (!section.ContainsKey("Anonymous") && !section.ContainsKey("Users"))
        {
            // The edge refuses anonymous clients by default; tests that are not about access control get an open edge.
            section["Anonymous"] = new JsonObject { ["*"] = "full" };
        }

        var config = new JsonObject { ["AnnexEdge"] = section };
        var configPath = dir.Combine("annexedge.json");
        await File.WriteAllTextAsync(configPath, config.ToJsonString());
        return configPath;
    }

    /// <summary>Runs the edge binary to completion with these arguments (for start-up validation tests).</summary>
    public static Task<ProcessRunner.Result> RunToExitAsync(params string[] args) =>
        ProcessRunner.RunAsync("dotnet", [EdgeBinary.Path, .. args], timeout: TimeSpan.FromSeconds(60));

    public async ValueTask DisposeAsync()
    {
        _process.Dispose();
        if (_http != Http)
        {
            _http.Dispose();
        }

        await Task.Yield();
        _dir.Dispose();
    }

    /// <summary>A client that trusts this CA alone, as a real client told of the test CA does.</summary>
    private static HttpClient TrustingClient(string caFile)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(X509Certificate2.CreateFromPem(File.ReadAllText(caFile)));
        return new HttpClient(new SocketsHttpHandler { SslOptions = { CertificateChainPolicy = policy } }) { Timeout = TimeSpan.FromSeconds(5) };
    }

    /// <summary>Waits until the edge serves; an edge that never does is stopped, not left running after the test.</summary>
    private async Task ServingOrDisposedAsync()
    {
        try
        {
            await WaitUntilServingAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilServingAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"AnnexEdge exited at start-up:\n{_process.Output}");
            }

            try
            {
                using var response = await _http.GetAsync($"{Url}/_annexedge/health");
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

        throw new TimeoutException($"AnnexEdge did not start serving:\n{_process.Output}");
    }
}

/// <summary>Finds the AnnexEdge build of the same configuration (Debug/Release) as the tests.</summary>
public static class EdgeBinary
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        var testDir = AppContext.BaseDirectory;
        var configuration = new DirectoryInfo(testDir).Parent?.Name ?? "Debug";
        for (var dir = new DirectoryInfo(testDir); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "AnnexEdge.sln")))
            {
                var dll = System.IO.Path.Combine(dir.FullName, "src", "AnnexEdge", "bin", configuration, "net10.0", "AnnexEdge.dll");
                if (File.Exists(dll))
                {
                    return dll;
                }

                throw new FileNotFoundException($"AnnexEdge is not built for {configuration}: {dll}");
            }
        }

        throw new DirectoryNotFoundException("cannot find AnnexEdge.sln above " + testDir);
    }
}
