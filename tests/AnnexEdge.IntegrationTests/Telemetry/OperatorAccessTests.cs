using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.IntegrationTests.Security;
using AnnexEdge.Security;

namespace AnnexEdge.IntegrationTests.Telemetry;

/// <summary>
/// <c>/metrics</c> and the status page are for operators: loopback clients, any client with
/// <c>StatusAllowRemote</c>, or a user with the <c>metrics</c> role. Anyone else gets 404, as for
/// <c>/_annexedge/status</c>. A remote client is one a trusted proxy (127.0.0.2) names in X-Forwarded-For.
/// </summary>
public sealed class OperatorAccessTests : IAsyncDisposable
{
    private const string ScraperPassword = "scrape-pw";
    private readonly RawHttpBackend _backend = new((_, _) => Task.FromResult(false));

    public ValueTask DisposeAsync() => _backend.DisposeAsync();

    private Task<EdgeHost> StartAsync(bool allowRemote = false)
    {
        var config = HostileTrafficTests.Config($"http://127.0.0.1:{_backend.Port}");
        config["Users"]!.AsArray().Add(new JsonObject
        {
            ["Name"] = "scraper",
            ["PasswordHash"] = PasswordHash.Create(ScraperPassword, PasswordHash.MinimumIterations),
            ["Roles"] = new JsonArray("metrics"),
        });
        config["Limits"]!["TrustedProxies"] = new JsonArray(ProxiedClient.ProxyAddress.ToString());
        config["StatusAllowRemote"] = allowRemote;
        return EdgeHost.StartAsync(config);
    }

    /// <summary>GETs the path as a client at 203.0.113.7 behind the trusted proxy, with these credentials if any.</summary>
    private static async Task<HttpStatusCode> RemoteGetAsync(EdgeHost edge, string path, (string User, string Password)? credentials = null)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                socket.Bind(new IPEndPoint(ProxiedClient.ProxyAddress, 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, edge.Url + path);
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        if (credentials is { } c)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue(
                "Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{c.User}:{c.Password}")));
        }

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        return response.StatusCode;
    }

    [Theory]
    [InlineData("/metrics")]
    [InlineData("/_annexedge/")]
    public async Task A_remote_client_gets_404_and_a_loopback_client_the_page(string path)
    {
        await using var edge = await StartAsync();

        Assert.Equal(HttpStatusCode.NotFound, await RemoteGetAsync(edge, path));
        using var local = await P2pHttp.Http.GetAsync(edge.Url + path, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, local.StatusCode);
    }

    [Theory]
    [InlineData("/metrics")]
    [InlineData("/_annexedge/")]
    public async Task A_remote_client_gets_the_page_when_status_allow_remote_is_set(string path)
    {
        await using var edge = await StartAsync(allowRemote: true);

        Assert.Equal(HttpStatusCode.OK, await RemoteGetAsync(edge, path));
    }

    [Theory]
    [InlineData("/metrics")]
    [InlineData("/_annexedge/")]
    public async Task A_remote_user_with_the_metrics_role_gets_the_page_and_any_other_user_or_password_404(string path)
    {
        await using var edge = await StartAsync();

        Assert.Equal(HttpStatusCode.OK, await RemoteGetAsync(edge, path, ("scraper", ScraperPassword)));
        Assert.Equal(HttpStatusCode.NotFound, await RemoteGetAsync(edge, path, ("scraper", "wrong")));
        // A user without the role, with the right password, may use repositories but not see the edge.
        Assert.Equal(HttpStatusCode.NotFound, await RemoteGetAsync(edge, path, ("fu", HostileTrafficTests.Password)));

        var metrics = PrometheusText.Parse(await P2pHttp.Http.GetStringAsync(edge.Url + "/metrics", TestContext.Current.CancellationToken));
        Assert.Equal(1, metrics.Value("annexedge_login_failures_total"));
    }
}
