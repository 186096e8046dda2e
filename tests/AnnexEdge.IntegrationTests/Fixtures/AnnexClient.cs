using System.Security.Cryptography;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// A real git-annex client repository: a clone of a node's repository whose <c>origin</c> remote is reached
/// through an annexUrl (normally the edge), as a user would set it up.
/// </summary>
public sealed class AnnexClient : IAsyncDisposable
{
    private readonly TempDirectory _dir;

    private AnnexClient(TempDirectory dir, string path)
    {
        _dir = dir;
        RepositoryPath = path;
    }

    public string RepositoryPath { get; }

    public static Task<AnnexClient> CloneAsync(P2pNode origin, string annexUrl, string name = "client") =>
        CloneAsync(origin.RepositoryPath, annexUrl, name);

    /// <summary>Clones the repository at this path (a node's, a gateway's) and reaches its annex through annexUrl.</summary>
    public static async Task<AnnexClient> CloneAsync(string originPath, string annexUrl, string name = "client")
    {
        await GitAnnex.RequireAsync();
        var dir = new TempDirectory("client");
        var path = dir.Combine(name);
        (await ProcessRunner.RunAsync("git", ["clone", "-q", originPath, path])).EnsureSuccess("git clone");
        var client = new AnnexClient(dir, path);
        (await client.GitAsync("annex", "init", "-q", name)).EnsureSuccess("git annex init");
        // Loopback backends: git-annex refuses private addresses unless told.
        (await client.GitAsync("config", "annex.security.allowed-ip-addresses", "all")).EnsureSuccess("git config");
        (await client.GitAsync("config", "remote.origin.annexUrl", annexUrl)).EnsureSuccess("git config annexUrl");
        return client;
    }

    public Task<ProcessRunner.Result> GitAsync(params string[] args) =>
        ProcessRunner.RunAsync("git", args, RepositoryPath, timeout: TimeSpan.FromMinutes(10));

    /// <summary>Runs git in the client with these environment variables added (e.g. the CA a client trusts).</summary>
    public Task<ProcessRunner.Result> GitAsync(IDictionary<string, string> environment, params string[] args) =>
        ProcessRunner.RunAsync("git", args, RepositoryPath, environment, TimeSpan.FromMinutes(10));

    /// <summary>Writes a file of random bytes, annexes and commits it, and returns its key.</summary>
    public async Task<string> AddRandomFileAsync(string name, long size)
    {
        var path = Path.Combine(RepositoryPath, name);
        await using (var file = File.Create(path))
        {
            var buffer = new byte[1024 * 1024];
            for (var left = size; left > 0; left -= buffer.Length)
            {
                RandomNumberGenerator.Fill(buffer);
                await file.WriteAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)));
            }
        }

        (await GitAsync("annex", "add", "-q", name)).EnsureSuccess("git annex add");
        (await GitAsync("commit", "-q", "-m", "add " + name)).EnsureSuccess("git commit");
        return (await GitAsync("annex", "lookupkey", name)).EnsureSuccess("git annex lookupkey").Output.Trim();
    }

    public async ValueTask DisposeAsync()
    {
        await Task.Yield();
        _dir.Dispose();
    }
}
