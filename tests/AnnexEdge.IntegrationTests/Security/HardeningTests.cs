using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>Slow clients, floods, refused uploads and credentials on the wrong channel.</summary>
public sealed class HardeningTests
{
    private static WireMockServer PresentBackend()
    {
        var backend = WireMockServer.Start();
        backend.Given(Request.Create().UsingAnyMethod())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("{\"present\":true}"));
        return backend;
    }

    private static string CheckPresentPath => $"/git-annex/{FaultEdge.Uuid}/v4/checkpresent?key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid}";

    [Fact]
    public async Task Hundreds_of_slow_loris_connections_do_not_keep_normal_clients_from_being_served_and_are_cut()
    {
        using var backend = PresentBackend();
        var config = FaultEdge.ConfigFor(backend.Url!);
        config["Anonymous"] = new JsonObject { ["*"] = "readonly" };
        config["Limits"] = new JsonObject { ["RequestHeadersTimeout"] = "00:00:03" };
        await using var edge = await EdgeHost.StartAsync(config);
        var ct = TestContext.Current.CancellationToken;

        var slow = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 300; i++)
            {
                var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, edge.Port, ct);
                await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"POST {CheckPresentPath} HTTP/1.1\r\nHost: x\r\nX-Slow: a"), ct);
                slow.Add(tcp);
            }

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < 20; i++)
            {
                using var response = await http.PostAsync(edge.Url + CheckPresentPath, null, ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"20 normal requests took {clock.Elapsed} beside 300 slow connections");

            // Trickle one byte a second; the edge must cut them once the headers timeout has passed. A connection
            // counts as cut once a write fails or the edge's end of it is readable (its FIN or RST); it is not
            // written to again, as a socket that failed a write is no longer connected.
            var cut = new HashSet<TcpClient>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (DateTime.UtcNow < deadline && cut.Count < slow.Count)
            {
                await Task.Delay(500, ct);
                foreach (var tcp in slow.Where(tcp => !cut.Contains(tcp)))
                {
                    try
                    {
                        await tcp.GetStream().WriteAsync("a"u8.ToArray(), ct);
                        if (tcp.Client.Poll(0, SelectMode.SelectRead))
                        {
                            cut.Add(tcp);
                        }
                    }
                    catch (Exception e) when (e is IOException or SocketException or InvalidOperationException)
                    {
                        cut.Add(tcp);
                    }
                }
            }

            Assert.Equal(slow.Count, cut.Count);
        }
        finally
        {
            slow.ForEach(tcp => tcp.Dispose());
        }
    }

    [Fact]
    public async Task A_flood_from_one_address_gets_429_beyond_its_burst()
    {
        using var backend = PresentBackend();
        var config = FaultEdge.ConfigFor(backend.Url!);
        config["Anonymous"] = new JsonObject { ["*"] = "readonly" };
        config["Limits"] = new JsonObject { ["RequestsPerSecondPerIp"] = 5, ["RequestBurstPerIp"] = 20 };
        await using var edge = await EdgeHost.StartAsync(config);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 60; i++)
        {
            using var response = await http.PostAsync(edge.Url + CheckPresentPath, null, TestContext.Current.CancellationToken);
            statuses.Add(response.StatusCode);
        }

        Assert.InRange(statuses.Count(s => s == HttpStatusCode.OK), 20, 30);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.InRange(backend.LogEntries.Count, 20, 30);
    }

    [Fact]
    public async Task An_unauthorised_put_with_expect_100_continue_is_refused_before_its_body_is_sent()
    {
        using var backend = PresentBackend();
        var config = HostileTrafficTests.Config(backend.Url!);
        await using var edge = await EdgeHost.StartAsync(config);

        var anonymous = await PutHeadAsync(edge.Port, authorization: null);
        var wrongPassword = await PutHeadAsync(edge.Port, "Basic " + Convert.ToBase64String("fu:wrong"u8.ToArray()));

        Assert.StartsWith("HTTP/1.1 401", anonymous);
        Assert.Contains("WWW-Authenticate: Basic realm=\"git-annex\", charset=\"UTF-8\"", anonymous);
        Assert.StartsWith("HTTP/1.1 401", wrongPassword);
        Assert.Empty(backend.LogEntries);
    }

    [Fact]
    public async Task Credentials_over_plain_http_are_refused_with_403_and_anonymous_clients_are_not_asked_for_them()
    {
        using var backend = PresentBackend();
        var config = HostileTrafficTests.Config(backend.Url!);
        config["AllowBasicAuthOverHttp"] = false;
        await using var edge = await EdgeHost.StartAsync(config);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        using var anonymous = await http.PostAsync(edge.Url + CheckPresentPath, null, TestContext.Current.CancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Post, edge.Url + CheckPresentPath);
        request.Headers.Authorization = AuthMatrix.Basic("fu", "fuzz-pw");
        using var withCredentials = await http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Forbidden, anonymous.StatusCode);
        Assert.False(anonymous.Headers.Contains("WWW-Authenticate"), "a 401 would invite the client to send its password in clear");
        Assert.Equal(HttpStatusCode.Forbidden, withCredentials.StatusCode);
        Assert.Contains("HTTPS", await withCredentials.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Empty(backend.LogEntries);
    }

    /// <summary>Sends only the head of a 10 MB put with Expect: 100-continue and returns the first answer's head.</summary>
    private static async Task<string> PutHeadAsync(int port, string? authorization)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        var head = $"POST /git-annex/{FaultEdge.Uuid}/v4/put?key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid} HTTP/1.1\r\n"
            + "Host: edge\r\nContent-Length: 10000000\r\nX-git-annex-data-length: 10000000\r\nExpect: 100-continue\r\n"
            + (authorization is null ? "" : $"Authorization: {authorization}\r\n") + "\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var read = await stream.ReadAsync(buffer, timeout.Token);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }
}
