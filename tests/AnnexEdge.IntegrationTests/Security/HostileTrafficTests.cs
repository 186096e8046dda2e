using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Security;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>
/// Hostile traffic against an edge that admits only a user: malformed and unauthorised requests of every kind get
/// an answer (never a 5xx), none reaches the backend, and the edge still serves the user afterwards.
/// </summary>
public sealed class HostileTrafficTests
{
    internal const string Password = "fuzz-pw";
    private const int Seed = 20250416;

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Thousands_of_malformed_or_unauthorised_requests_get_no_5xx_and_never_reach_the_backend()
    {
        using var backend = WireMockServer.Start();
        backend.Given(Request.Create().UsingAnyMethod())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("{\"present\":true}"));
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url!));
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(20) };
        var random = new Random(Seed);
        var statuses = new Dictionary<int, int>();
        var failures = new List<string>();

        for (var i = 0; i < 3000; i++)
        {
            var (method, target, headers, body) = FuzzRequest(random);
            using var request = new HttpRequestMessage(new HttpMethod(method), edge.Url + target);
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            if (body is not null)
            {
                request.Content = new ByteArrayContent(body);
            }

            try
            {
                using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
                var status = (int)response.StatusCode;
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                if (status >= 500)
                {
                    failures.Add($"{status} for {method} {target}");
                }
            }
            catch (HttpRequestException e)
            {
                failures.Add($"no answer for {method} {target}: {e.Message}");
            }
        }

        for (var i = 0; i < 300; i++)
        {
            var answer = await RawExchangeAsync(edge.Port, RawGarbage(random));
            if (answer.StartsWith("HTTP/1.1 5", StringComparison.Ordinal))
            {
                failures.Add("raw request got " + answer.Split('\r')[0]);
            }
        }

        TestContext.Current.SendDiagnosticMessage("statuses: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}x{s.Value}")));
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
        Assert.Empty(backend.LogEntries);

        using var valid = new HttpRequestMessage(HttpMethod.Post, $"{edge.Url}/git-annex/{FaultEdge.Uuid}/v4/checkpresent?key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid}");
        valid.Headers.Authorization = AuthMatrix.Basic("fu", Password);
        var hostile = edge.Events.All.ToHashSet();
        using var served = await http.SendAsync(valid, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Contains("\"present\":true", await served.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        // Logged once answered, after the hostile traffic: nothing before it was an unhandled exception.
        await edge.EventAsync(e => !hostile.Contains(e) && e.IsRequest("POST", "/checkpresent", 200));
        Assert.DoesNotContain(edge.Events.All, e => e.RenderMessage().Contains("unhandled", StringComparison.OrdinalIgnoreCase));
        var forwarded = Assert.Single(backend.LogEntries);
        Assert.False(forwarded.RequestMessage.Headers?.ContainsKey("Authorization") ?? false, "the client's credentials reached the backend");
    }

    internal static JsonObject Config(string backendUrl)
    {
        var config = FaultEdge.ConfigFor(backendUrl);
        config["Users"] = new JsonArray(new JsonObject
        {
            ["Name"] = "fu",
            ["PasswordHash"] = PasswordHash.Create(Password, PasswordHash.MinimumIterations),
            ["Access"] = new JsonObject { ["*"] = "full" },
        });
        config["Anonymous"] = new JsonObject { ["*"] = "none" };
        config["AllowBasicAuthOverHttp"] = true;
        // Thousands of requests from one address: the per-address limits are tested elsewhere.
        config["Limits"] = new JsonObject { ["RequestsPerSecondPerIp"] = 0, ["FailedLoginsPerMinutePerIp"] = 0, ["FailedPasswordChecksPerMinutePerIp"] = 0 };
        return config;
    }

    private static (string Method, string Target, List<(string, string)> Headers, byte[]? Body) FuzzRequest(Random random)
    {
        string[] methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "PROPFIND", "XYZ", "post"];
        string[] uuids = [FaultEdge.Uuid, FaultEdge.Uuid.ToUpperInvariant(), "[" + Convert.ToBase64String(Encoding.UTF8.GetBytes(FaultEdge.Uuid)) + "]",
            "00000000-0000-0000-0000-000000000000", "not-a-uuid", "", "..", "%2e%2e", "[!!]", new string('a', 5000), "%00", "fa0175ed-9e00-4000-8000-0000000000f1%00"];
        string[] versions = ["v0", "v1", "v2", "v3", "v4", "v5", "v-1", "v99999999999999999999", "V4", "", "key"];
        string[] endpoints = ["key", "checkpresent", "lockcontent", "keeplocked", "remove", "remove-before", "gettimestamp", "put", "putoffset", "", "..", "checkpresent/extra", "%6beY"];
        string[] keys = [FaultEdge.Key, "notakey", "", "SHA256E-s-1--x", "SHA256E-s99999999999999999999999--x", "WORM-s1-m1--a%2Fb", "../../etc/passwd",
            "%C0%AF", "%FF%FE", "\u00e9\u00e9", "SHA256E-s1000--" + new string('f', 3000), "[" + Convert.ToBase64String("SHA256E-s1--a"u8.ToArray()) + "]"];
        string[] auths = ["", "Basic", "Basic !!!", "Basic " + Convert.ToBase64String("fu:wrong"u8.ToArray()), "Basic " + Convert.ToBase64String("nobody:x"u8.ToArray()),
            "Bearer abc", "Basic " + Convert.ToBase64String(new byte[] { 0xff, 0x3a, 0x00 }), "Digest username=\"fu\"", "Basic " + new string('A', 4000)];

        var method = Pick(random, methods);
        if (random.Next(3) == 0)
        {
            // Well-formed p2phttp requests without valid credentials: the access check must stop every one.
            var endpoint = Pick(random, endpoints[..9]);
            var wellFormed = endpoint == "key"
                ? $"/git-annex/{FaultEdge.Uuid}/v4/key/{FaultEdge.Key}?clientuuid={FaultEdge.ClientUuid}"
                : $"/git-annex/{FaultEdge.Uuid}/v4/{endpoint}?key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid}&lockid={FaultEdge.ClientUuid}&timestamp=5&offset=0";
            List<(string, string)> wellFormedHeaders = [("X-git-annex-data-length", "1000")];
            if (random.Next(4) > 0)
            {
                wellFormedHeaders.Add(("Authorization", Pick(random, auths)));
            }

            return (endpoint == "key" ? "GET" : "POST", wellFormed, wellFormedHeaders, endpoint is "put" or "keeplocked" ? RandomBytes(random, 1000) : null);
        }

        var path = random.Next(10) switch
        {
            0 => "/" + RandomText(random, random.Next(0, 40)),
            1 => "/git-annex/" + RandomText(random, random.Next(0, 200)),
            _ => $"/git-annex/{Pick(random, uuids)}/{Pick(random, versions)}/{Pick(random, endpoints)}"
                + (random.Next(3) == 0 ? "/" + Pick(random, keys) : ""),
        };
        var query = new List<string>();
        for (var q = random.Next(0, 6); q > 0; q--)
        {
            query.Add(random.Next(8) switch
            {
                0 => "key=" + Pick(random, keys),
                1 => "clientuuid=" + Pick(random, uuids),
                2 => "offset=" + Pick(random, new[] { "0", "-1", "x", "99999999999999999999", "1e3" }),
                3 => "timestamp=" + Pick(random, new[] { "1", "-5", "abc", "" }),
                4 => "lockid=" + Pick(random, uuids),
                5 => "bypass=" + Pick(random, uuids),
                6 => "associatedfile=" + Pick(random, keys),
                _ => RandomText(random, random.Next(1, 30)),
            });
        }

        var headers = new List<(string, string)>();
        if (random.Next(3) > 0)
        {
            headers.Add(("Authorization", Pick(random, auths)));
        }

        if (random.Next(3) == 0)
        {
            headers.Add(("X-git-annex-data-length", Pick(random, new[] { "0", "1000", "-1", "abc", "99999999999999999999", "" })));
        }

        if (random.Next(5) == 0)
        {
            // HttpClient sends only ASCII header values; raw requests below carry other bytes.
            headers.Add(("X-Fuzz-" + random.Next(1000), new string(RandomText(random, random.Next(0, 500)).Where(char.IsAscii).ToArray())));
        }

        var body = random.Next(3) == 0 ? RandomBytes(random, random.Next(0, 20_000)) : null;
        var target = path + (query.Count > 0 ? "?" + string.Join("&", query) : "");
        return (method, target, headers, body);
    }

    private static byte[] RawGarbage(Random random) => random.Next(5) switch
    {
        3 => Encoding.UTF8.GetBytes($"POST /git-annex/{FaultEdge.Uuid}/v4/checkpresent?key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {RandomText(random, 20)}\r\nX-\u4e2d: \u00e9\u0000\r\n\r\n"),
        0 => RandomBytes(random, random.Next(1, 2000)),
        1 => Encoding.ASCII.GetBytes($"GET /git-annex/{FaultEdge.Uuid}/v4/key/{FaultEdge.Key} HTTP/1.1\r\nHost: x\r\n" + new string('X', 20_000) + ": y\r\n\r\n"),
        2 => Encoding.ASCII.GetBytes($"POST /git-annex/{FaultEdge.Uuid}/v4/put?key={FaultEdge.Key} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        _ => Encoding.ASCII.GetBytes($"GET /{new string('a', 20_000)} HTTP/1.1\r\nHost: x\r\n\r\n"),
    };

    private static async Task<string> RawExchangeAsync(int port, byte[] request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        try
        {
            await stream.WriteAsync(request);
            tcp.Client.Shutdown(SocketShutdown.Send);
            var buffer = new byte[512];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var read = await stream.ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (IOException)
        {
            // The edge may reset a connection that sent garbage; that is an answer too.
            return "";
        }
    }

    private static T Pick<T>(Random random, T[] items) => items[random.Next(items.Length)];

    private static string RandomText(Random random, int length)
    {
        const string alphabet = "abcXYZ019-_.~/%?&=[]{}+:;@!$'()*,\\ \u00e9\u4e2d";
        var text = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            text.Append(random.Next(10) == 0 ? $"%{random.Next(256):X2}" : alphabet[random.Next(alphabet.Length)].ToString());
        }

        return text.ToString();
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
