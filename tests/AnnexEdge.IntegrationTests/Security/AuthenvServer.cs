using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>
/// A <c>git annex p2phttp --authenv-http</c> process on a node's repository, with users from
/// <c>GIT_ANNEX_P2PHTTP_PASSWORD_user</c> / <c>GIT_ANNEX_P2PHTTP_PERMISSIONS_user</c>: the reference the edge's
/// permissions are compared with.
/// </summary>
public sealed class AuthenvServer : IDisposable
{
    private readonly BackgroundProcess _process;

    private AuthenvServer(BackgroundProcess process, int port)
    {
        _process = process;
        Url = $"http://127.0.0.1:{port}";
    }

    public string Url { get; }

    public string Logs => _process.Output;

    /// <param name="users">user name to permission (<c>readonly</c>, <c>appendonly</c>, or null for full).</param>
    public static async Task<AuthenvServer> StartAsync(P2pNode node, IReadOnlyDictionary<string, string?> users, string password, params string[] options)
    {
        var environment = new Dictionary<string, string>();
        foreach (var (user, permission) in users)
        {
            environment["GIT_ANNEX_P2PHTTP_PASSWORD_" + user] = password;
            if (permission is not null)
            {
                environment["GIT_ANNEX_P2PHTTP_PERMISSIONS_" + user] = permission;
            }
        }

        var port = FreePort.Next();
        var process = new BackgroundProcess(
            "git",
            ["annex", "p2phttp", "--bind", "127.0.0.1", "--port", port.ToString(), "--jobs", "32", "--authenv-http", .. options],
            node.RepositoryPath,
            environment);
        var server = new AuthenvServer(process, port);
        await server.WaitUntilServingAsync(node.Uuid);
        return server;
    }

    public void Dispose() => _process.Dispose();

    private async Task WaitUntilServingAsync(string uuid)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                // Any HTTP answer (401 included) means it serves.
                using var response = await http.PostAsync($"{Url}/git-annex/{uuid}/v4/gettimestamp?clientuuid={AuthMatrix.ClientUuid}", null);
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                await Task.Delay(100);
            }
        }

        throw new TimeoutException($"p2phttp --authenv-http did not answer:\n{_process.Output}");
    }
}
