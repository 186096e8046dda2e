using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using AnnexEdge.Security;
using Microsoft.Extensions.DependencyInjection;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>A password-guessing burst from one address, with the default login limits and full-cost PBKDF2 hashes.</summary>
public sealed class LoginBurstTests
{
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress Neighbour = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task A_burst_of_100_bad_passwords_gets_two_checks_and_429s_at_once_while_another_address_logs_in()
    {
        using var backend = WireMockServer.Start();
        backend.Given(Request.Create().UsingAnyMethod())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("{\"present\":true}"));
        var config = FaultEdge.ConfigFor(backend.Url!);
        config["Users"] = new JsonArray(User("fu"), User("alice"));
        config["Anonymous"] = new JsonObject { ["*"] = "none" };
        config["AllowBasicAuthOverHttp"] = true;
        await using var edge = await EdgeHost.StartAsync(config);
        var authenticator = edge.Services.GetRequiredService<Authenticator>();
        var ct = TestContext.Current.CancellationToken;
        using var attacker = ClientFrom(Attacker);
        using var neighbour = ClientFrom(Neighbour);

        // fu's password, remembered (and the edge warmed up), and a hundred connections from the attacker's address
        // open before the burst.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(attacker, edge, "fu", Password("fu"), ct));
        await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => attacker.GetAsync(edge.Url + "/_annexedge/health", ct)));
        var before = authenticator.Verifications;

        var burst = Enumerable.Range(0, 100).Select(async i =>
        {
            var sent = Stopwatch.StartNew();
            using var response = await SendAsync(attacker, edge, "fu", "guess-" + i, ct);
            return (response.StatusCode, Elapsed: sent.Elapsed, RetryAfter: response.Headers.RetryAfter?.Delta);
        }).ToList();
        await Eventually.Async(() => authenticator.VerificationsRunning > 0, TimeSpan.FromSeconds(10), "a check of the burst runs");
        var login = Stopwatch.StartNew();
        var neighbourStatus = await StatusAsync(neighbour, edge, "alice", Password("alice"), ct);
        login.Stop();
        var answers = await Task.WhenAll(burst);
        var afterwards = await StatusAsync(attacker, edge, "fu", Password("fu"), ct);

        // One check's time, as this machine takes it under the burst's load: the first of the burst's checks to be answered.
        var oneCheck = answers.Where(a => a.StatusCode == HttpStatusCode.Unauthorized).Select(a => a.Elapsed).DefaultIfEmpty(TimeSpan.MaxValue).Min();
        var refused = answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        TestContext.Current.SendDiagnosticMessage(
            $"one check {oneCheck.TotalMilliseconds:0} ms; the neighbour's login during the burst {login.ElapsedMilliseconds} ms; "
            + $"burst: {string.Join(", ", answers.GroupBy(a => a.StatusCode).Select(g => $"{(int)g.Key}x{g.Count()}"))}, "
            + $"slowest 429 {refused.Select(a => a.Elapsed.TotalMilliseconds).DefaultIfEmpty().Max():0} ms");
        Assert.Equal(HttpStatusCode.OK, neighbourStatus);
        // How long the neighbour waits behind the attacker's checks is the scheduler's round-robin
        // (PasswordCheckSchedulerTests); wall times on a shared 2-core machine only go to the diagnostic message above.
        var checkedCount = answers.Count(a => a.StatusCode == HttpStatusCode.Unauthorized);
        Assert.Equal(100, refused.Count + checkedCount);
        Assert.InRange(checkedCount, 1, 2);
        Assert.Equal(checkedCount + 1, authenticator.Verifications - before);
        Assert.All(refused, a => Assert.Equal(TimeSpan.FromSeconds(1), a.RetryAfter));
        // At once: every refusal came sooner than any check of the burst could end.
        Assert.All(refused, a => Assert.True(a.Elapsed < oneCheck, $"a 429 took {a.Elapsed}, one check {oneCheck}"));
        await edge.EventAsync(EdgeEventIds.PasswordChecksBusy);
        // The right, remembered password from the burst's own address still gets in.
        Assert.Equal(HttpStatusCode.OK, afterwards);
    }

    private static string Password(string user) => user + "-correct horse";

    private static JsonObject User(string name) => new()
    {
        ["Name"] = name,
        ["PasswordHash"] = PasswordHash.Create(Password(name)),
        ["Access"] = new JsonObject { ["*"] = "full" },
    };

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http, EdgeHost edge, string user, string password, CancellationToken ct)
    {
        using var response = await SendAsync(http, edge, user, password, ct);
        return response.StatusCode;
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, EdgeHost edge, string user, string password, CancellationToken ct)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, edge.Url + FaultEdge.PathOf("checkpresent"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(user + ":" + password)));
        return http.SendAsync(request, ct);
    }

    /// <summary>A client whose connections come from this loopback address (the edge keys its login limits on it).</summary>
    private static HttpClient ClientFrom(IPAddress source) => new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { Timeout = TimeSpan.FromSeconds(60) };
}
