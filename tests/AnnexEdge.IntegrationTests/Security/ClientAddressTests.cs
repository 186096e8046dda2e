using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>
/// The client's real address behind a trusted proxy (PROXY protocol, X-Forwarded-For) in the logs and every
/// per-address control, nobody else's word for it, and the per-address connection limit. The proxy connects from
/// 127.0.0.2 (<see cref="ProxiedClient.ProxyAddress"/>); 127.0.0.1 is an untrusted client.
/// </summary>
public sealed class ClientAddressTests
{
    private static readonly IPEndPoint Alice = new(IPAddress.Parse("203.0.113.7"), 40001);
    private static readonly IPEndPoint Bob = new(IPAddress.Parse("198.51.100.9"), 40002);

    private static string RemovePath => FaultEdge.PathOf("remove");

    private static string CheckPresentPath => FaultEdge.PathOf("checkpresent");

    private static WireMockServer Backend()
    {
        var backend = WireMockServer.Start();
        backend.Given(Request.Create().UsingAnyMethod())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("{\"present\":true}"));
        return backend;
    }

    private static Task<EdgeHost> StartAsync(WireMockServer backend, JsonObject limits)
    {
        var config = FaultEdge.ConfigFor(backend.Url!);
        config["Anonymous"] = new JsonObject { ["*"] = "full" };
        config["Limits"] = limits;
        return EdgeHost.StartAsync(config);
    }

    private static JsonObject BehindProxyProtocol() => new()
    {
        ["TrustedProxies"] = new JsonArray(ProxiedClient.ProxyAddress.ToString()),
        ["ProxyProtocol"] = true,
    };

    private static async Task<ProxiedClient> ThroughProxyAsync(EdgeHost edge, IPEndPoint client)
    {
        var proxy = await ProxiedClient.ConnectAsync(ProxiedClient.ProxyAddress, edge.Port);
        await proxy.WriteAsync(ProxiedClient.V2Header(client, edge.Port));
        return proxy;
    }

    [Theory]
    [InlineData("v2", "203.0.113.7")]
    [InlineData("v2", "2001:db8::7")]
    [InlineData("v1", "203.0.113.7")]
    public async Task A_client_behind_a_proxy_protocol_proxy_is_audited_and_logged_under_its_own_address(string version, string address)
    {
        using var backend = Backend();
        await using var edge = await StartAsync(backend, BehindProxyProtocol());
        var client = new IPEndPoint(IPAddress.Parse(address), 40001);
        await using var proxy = await ProxiedClient.ConnectAsync(ProxiedClient.ProxyAddress, edge.Port);
        var family = client.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? "TCP4 203.0.113.7 127.0.0.1" : "TCP6 2001:db8::7 ::1";
        await proxy.WriteAsync(version == "v2" ? ProxiedClient.V2Header(client, edge.Port) : Encoding.ASCII.GetBytes($"PROXY {family} 40001 {edge.Port}\r\n"));

        Assert.Equal(200, await proxy.SendAsync("POST", RemovePath));

        var audit = await edge.EventAsync(EdgeEventIds.Audit, e => e.Text("AuditAction") == "remove");
        var request = await edge.RequestEventAsync("POST", "/v4/remove", 200);
        Assert.Equal(address, audit.Text("RemoteIp"));
        Assert.Equal(address, request.Text(RequestLogProperties.RemoteIp));
    }

    [Fact]
    public async Task A_local_proxy_protocol_header_keeps_the_proxys_own_address()
    {
        using var backend = Backend();
        await using var edge = await StartAsync(backend, BehindProxyProtocol());
        await using var proxy = await ProxiedClient.ConnectAsync(ProxiedClient.ProxyAddress, edge.Port);
        await proxy.WriteAsync(ProxiedClient.V2Header(null, edge.Port, 0x20));

        Assert.Equal(200, await proxy.SendAsync("POST", RemovePath));

        var audit = await edge.EventAsync(EdgeEventIds.Audit, e => e.Text("AuditAction") == "remove");
        Assert.Equal("127.0.0.2", audit.Text("RemoteIp"));
    }

    [Fact]
    public async Task The_request_rate_limit_counts_each_client_behind_a_proxy_by_its_own_address()
    {
        using var backend = Backend();
        var limits = BehindProxyProtocol();
        limits["RequestsPerSecondPerIp"] = 1;
        limits["RequestBurstPerIp"] = 1;
        await using var edge = await StartAsync(backend, limits);
        await using var alice = await ThroughProxyAsync(edge, Alice);
        await using var bob = await ThroughProxyAsync(edge, Bob);

        var aliceStatuses = new List<int?>();
        for (var i = 0; i < 3; i++)
        {
            aliceStatuses.Add(await alice.SendAsync("POST", CheckPresentPath));
        }

        var bobStatus = await bob.SendAsync("POST", CheckPresentPath);

        Assert.Equal(200, aliceStatuses[0]);
        Assert.Contains(429, aliceStatuses);
        Assert.Equal(200, bobStatus);
    }

    [Fact]
    public async Task The_status_endpoints_are_rate_limited_and_loopback_only_by_the_real_address()
    {
        using var backend = Backend();
        var limits = BehindProxyProtocol();
        limits["RequestsPerSecondPerIp"] = 1;
        limits["RequestBurstPerIp"] = 1;
        await using var edge = await StartAsync(backend, limits);
        await using var remote = await ThroughProxyAsync(edge, Alice);
        await using var local = await ThroughProxyAsync(edge, new IPEndPoint(IPAddress.Loopback, 40003));

        var remoteStatus = await remote.SendAsync("GET", "/_annexedge/status");
        var localStatus = await local.SendAsync("GET", "/_annexedge/status");
        var localHealth = new List<int?>();
        for (var i = 0; i < 3; i++)
        {
            localHealth.Add(await local.SendAsync("GET", "/_annexedge/health"));
        }

        Assert.Equal(404, remoteStatus);
        Assert.Equal(200, localStatus);
        Assert.Contains(429, localHealth);
    }

    [Fact]
    public async Task X_forwarded_for_names_the_client_only_when_a_trusted_proxy_sent_it()
    {
        using var backend = Backend();
        await using var edge = await StartAsync(backend, new JsonObject { ["TrustedProxies"] = new JsonArray("127.0.0.2/32") });
        await using var proxy = await ProxiedClient.ConnectAsync(ProxiedClient.ProxyAddress, edge.Port);
        await using var direct = await ProxiedClient.ConnectAsync(IPAddress.Loopback, edge.Port);
        // The proxy appends the address it saw to what the client claimed: only the proxy's own hop is believed.
        const string ForwardedByProxy = "X-Forwarded-For: 203.0.113.7, 198.51.100.9\r\n";

        Assert.Equal(200, await proxy.SendAsync("POST", RemovePath, ForwardedByProxy + "X-Test: proxy\r\n"));
        Assert.Equal(404, await proxy.SendAsync("GET", "/_annexedge/status", ForwardedByProxy));
        Assert.Equal(200, await direct.SendAsync("POST", RemovePath, "X-Forwarded-For: 203.0.113.7\r\n"));
        Assert.Equal(200, await direct.SendAsync("GET", "/_annexedge/status", "X-Forwarded-For: 203.0.113.7\r\n"));

        await Eventually.Async(
            () => edge.Events.All.Count(e => e.EventId() == EdgeEventIds.Audit) == 2, TimeSpan.FromSeconds(10), "two audit events", () => edge.Logs);
        var audited = edge.Events.All.Where(e => e.EventId() == EdgeEventIds.Audit).Select(e => e.Text("RemoteIp")).ToList();
        Assert.Equal(["198.51.100.9", "127.0.0.1"], audited);
    }

    [Fact]
    public async Task X_forwarded_proto_https_from_a_trusted_proxy_admits_credentials_and_from_anyone_else_does_not()
    {
        using var backend = Backend();
        var config = HostileTrafficTests.Config(backend.Url!);
        config["AllowBasicAuthOverHttp"] = false;
        config["Limits"]!["TrustedProxies"] = new JsonArray(ProxiedClient.ProxyAddress.ToString());
        await using var edge = await EdgeHost.StartAsync(config);
        await using var proxy = await ProxiedClient.ConnectAsync(ProxiedClient.ProxyAddress, edge.Port);
        await using var direct = await ProxiedClient.ConnectAsync(IPAddress.Loopback, edge.Port);
        var credentials = "Authorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("fu:" + HostileTrafficTests.Password))
            + "\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.7\r\n";

        Assert.Equal(200, await proxy.SendAsync("POST", CheckPresentPath, credentials));
        Assert.Equal(403, await direct.SendAsync("POST", CheckPresentPath, credentials));
    }

    [Fact]
    public async Task X_forwarded_for_is_ignored_without_trusted_proxies()
    {
        using var backend = Backend();
        await using var edge = await StartAsync(backend, new JsonObject());
        await using var client = await ProxiedClient.ConnectAsync(IPAddress.Loopback, edge.Port);

        Assert.Equal(200, await client.SendAsync("POST", RemovePath, "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"));

        var audit = await edge.EventAsync(EdgeEventIds.Audit, e => e.Text("AuditAction") == "remove");
        Assert.Equal("127.0.0.1", audit.Text("RemoteIp"));
    }

    [Fact]
    public async Task A_proxy_protocol_header_from_an_untrusted_address_closes_the_connection()
    {
        using var backend = Backend();
        await using var edge = await StartAsync(backend, BehindProxyProtocol());
        await using var forger = await ProxiedClient.ConnectAsync(IPAddress.Loopback, edge.Port);
        await using var direct = await ProxiedClient.ConnectAsync(IPAddress.Loopback, edge.Port);
        await forger.WriteAsync(ProxiedClient.V2Header(Alice, edge.Port));

        Assert.Null(await forger.SendAsync("POST", RemovePath));
        Assert.Equal(200, await direct.SendAsync("POST", CheckPresentPath));

        var refused = await edge.EventAsync(EdgeEventIds.ProxyHeaderRefused);
        Assert.Equal("127.0.0.1", refused.Text("RemoteIp"));
        Assert.DoesNotContain(edge.Events.All, e => e.EventId() == EdgeEventIds.Audit);
        Assert.DoesNotContain(backend.LogEntries, e => e.RequestMessage.Path.EndsWith("/remove", StringComparison.Ordinal));
    }

    public static TheoryData<string, byte[]> BrokenHeaders => new()
    {
        { "version 3", ProxiedClient.V2Header(Alice, 80, 0x31) },
        { "command 2", ProxiedClient.V2Header(Alice, 80, 0x22) },
        { "v2 datagram", [.. ProxiedClient.V2Header(Alice, 80)[..13], 0x12, .. ProxiedClient.V2Header(Alice, 80)[14..]] },
        { "v1 without addresses", "PROXY TCP4 203.0.113.7\r\n"u8.ToArray() },
        { "v1 without end", Encoding.ASCII.GetBytes("PROXY TCP4 " + new string('1', 120)) },
        { "no header", [] },
    };

    [Theory]
    [MemberData(nameof(BrokenHeaders))]
    public async Task A_trusted_proxys_connection_without_a_valid_proxy_header_is_closed(string what, byte[] header)
    {
        using var backend = Backend();
        await using var edge = await StartAsync(backend, BehindProxyProtocol());
        await using var proxy = await ProxiedClient.ConnectAsync(ProxiedClient.ProxyAddress, edge.Port);
        await proxy.WriteAsync(header);

        Assert.True(await proxy.SendAsync("POST", RemovePath) is null, $"{what}: the edge answered");

        await edge.EventAsync(EdgeEventIds.ProxyHeaderRefused, e => e.Text("RemoteIp") == "127.0.0.2");
        Assert.Empty(backend.LogEntries);
    }

    [Fact]
    public async Task A_trusted_proxys_silent_connection_is_closed_after_the_headers_timeout()
    {
        using var backend = Backend();
        var limits = BehindProxyProtocol();
        limits["RequestHeadersTimeout"] = "00:00:01";
        await using var edge = await StartAsync(backend, limits);
        await using var proxy = await ProxiedClient.ConnectAsync(ProxiedClient.ProxyAddress, edge.Port);

        Assert.True(await proxy.IsClosedByEdgeAsync(), "a silent connection was kept open");

        await edge.EventAsync(EdgeEventIds.ProxyHeaderRefused, e => e.Text("Reason")!.Contains("RequestHeadersTimeout", StringComparison.Ordinal));
    }

    /// <summary>Whether a new connection from loopback is closed by the edge (on a busy machine, before its connect even completed).</summary>
    private static async Task<bool> IsClosedAtOnceAsync(int port)
    {
        try
        {
            await using var connection = await ProxiedClient.ConnectAsync(IPAddress.Loopback, port);
            return await connection.IsClosedByEdgeAsync();
        }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset)
        {
            return true;
        }
    }

    [Fact]
    public async Task Connections_over_the_per_address_limit_are_closed_at_once_and_logged_once()
    {
        using var backend = Backend();
        await using var edge = await StartAsync(backend, new JsonObject { ["MaxConnectionsPerIp"] = 2 });
        var first = await ProxiedClient.ConnectAsync(IPAddress.Loopback, edge.Port);
        await using var second = await ProxiedClient.ConnectAsync(IPAddress.Loopback, edge.Port);
        try
        {
            // Answered: both are counted before the next ones arrive.
            Assert.Equal(200, await first.SendAsync("GET", "/_annexedge/health"));
            Assert.Equal(200, await second.SendAsync("GET", "/_annexedge/health"));
            Assert.True(await IsClosedAtOnceAsync(edge.Port), "a third connection was not closed");
            Assert.True(await IsClosedAtOnceAsync(edge.Port), "a fourth connection was not closed");
        }
        finally
        {
            await first.DisposeAsync();
        }

        var refused = await edge.EventAsync(EdgeEventIds.ConnectionsPerIpExceeded);
        Assert.Equal("127.0.0.1", refused.Text("RemoteIp"));
        Assert.Single(edge.Events.All, e => e.EventId() == EdgeEventIds.ConnectionsPerIpExceeded);
        // Once the edge has seen the first connection go, its place is free again.
        await Eventually.Async(
            async () =>
            {
                try
                {
                    await using var again = await ProxiedClient.ConnectAsync(IPAddress.Loopback, edge.Port);
                    return await again.SendAsync("GET", "/_annexedge/health") == 200;
                }
                catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
                {
                    // Closed as over the limit: the edge has not seen the first one go yet.
                    return false;
                }
            },
            TimeSpan.FromSeconds(10),
            "a new connection once one of the two closed");
    }

    [Fact]
    public async Task The_per_address_connection_limit_counts_clients_behind_a_proxy_by_their_own_address()
    {
        using var backend = Backend();
        var limits = BehindProxyProtocol();
        limits["MaxConnectionsPerIp"] = 1;
        await using var edge = await StartAsync(backend, limits);
        await using var alice = await ThroughProxyAsync(edge, Alice);
        Assert.Equal(200, await alice.SendAsync("GET", "/_annexedge/health"));
        await using var aliceAgain = await ThroughProxyAsync(edge, Alice);
        await using var bob = await ThroughProxyAsync(edge, Bob);

        Assert.True(await aliceAgain.IsClosedByEdgeAsync(), "a second connection for the same client was not closed");
        Assert.Equal(200, await bob.SendAsync("GET", "/_annexedge/health"));

        var refused = await edge.EventAsync(EdgeEventIds.ConnectionsPerIpExceeded);
        Assert.Equal(Alice.Address.ToString(), refused.Text("RemoteIp"));
    }
}
