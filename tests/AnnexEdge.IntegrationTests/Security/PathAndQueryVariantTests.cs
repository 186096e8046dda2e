using System.Net.Sockets;
using System.Text;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>
/// The ways a hostile client spells one p2phttp request (path casing, percent-encoded slashes, double slashes, dot
/// segments, <c>;</c> in the query, repeated parameters), sent by a user allowed everything: every answer comes from
/// the edge, and the backend sees only requests the edge wrote itself, for the key the edge validated and logged.
/// </summary>
public sealed class PathAndQueryVariantTests
{
    private const string Victim = "SHA256E-s5--1111111111111111111111111111111111111111111111111111111111111111";
    private const string OtherClient = "c1e00000-0000-4000-8000-0000000000ff";

    private static readonly string[] Prefixes =
        ["/git-annex/", "/GIT-ANNEX/", "/Git-Annex/", "/git-annex%2F", "/git-annex%2f", "/%67it-annex/", "//git-annex/", "/git-annex//",
         "/./git-annex/", "/x/../git-annex/", "/git-annex/./", "/git-annex/x/../", "/git-annex/%2e%2e/git-annex/", "/git-annex%5C"];

    private static readonly string[] Uuids = [FaultEdge.Uuid, FaultEdge.Uuid.ToUpperInvariant(), FaultEdge.Uuid + "%2F", FaultEdge.Uuid + "/.", FaultEdge.Uuid + "/"];

    private static readonly string[] Versions = ["v4/", "V4/", "v4%2F", "v4//", "v4/./"];

    private static readonly string[] Endpoints = ["checkpresent", "remove", "CHECKPRESENT", "remove/", "remove;x", "remove%3Bx", "remove/."];

    private static readonly string[] Queries =
    [
        $"key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid}",
        $"key={FaultEdge.Key};key={Victim}&clientuuid={FaultEdge.ClientUuid}",
        $"x=1;key={Victim}&key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid}",
        $"key={FaultEdge.Key}&key={Victim}&clientuuid={FaultEdge.ClientUuid}",
        $"KEY={Victim}&key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid}",
        $"key={Uri.EscapeDataString(FaultEdge.Key)}&clientuuid={FaultEdge.ClientUuid}",
        $"key={FaultEdge.Key}%26key%3D{Victim}&clientuuid={FaultEdge.ClientUuid}",
        $"key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid}&clientuuid={OtherClient}",
        $"clientuuid={FaultEdge.ClientUuid};key={Victim}",
        $"key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid}#key={Victim}",
    ];

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Every_spelling_of_a_request_is_answered_by_the_edge_and_the_backend_sees_only_what_the_edge_validated()
    {
        using var backend = WireMockServer.Start();
        backend.Given(Request.Create().UsingAnyMethod())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("{\"present\":true,\"removed\":true,\"plusuuids\":[]}"));
        await using var edge = await EdgeHost.StartAsync(HostileTrafficTests.Config(backend.Url!));
        var authorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("fu:" + HostileTrafficTests.Password));
        var random = new Random(20261130);
        var failures = new List<string>();
        var forwarded = 0;

        for (var i = 0; i < 400; i++)
        {
            // The first ones walk each list once against an otherwise canonical request; then random combinations.
            var target = i < 60
                ? Canonical(i)
                : Pick(random, Prefixes) + Pick(random, Uuids) + "/" + Pick(random, Versions) + Pick(random, Endpoints) + "?" + Pick(random, Queries);
            backend.ResetLogEntries();
            var seen = edge.Events.All.Count;
            var status = await RawPostAsync(edge.Port, target, authorization);
            if (status is 0 or >= 500)
            {
                failures.Add($"{target}: status {status}");
                continue;
            }

            // The request's own event is logged once it is answered; the backend's log may come a moment later.
            var logged = await edge.EventAsync(e => e.IsRequest() && edge.Events.All.Skip(seen).Contains(e));
            var sent = status == 200 ? await ReceivedAsync(backend) : backend.LogEntries.Select(e => e.RequestMessage.Path + e.RequestMessage.RawQuery).ToArray();
            if (sent.Length > 1)
            {
                failures.Add($"{target}: the backend got {sent.Length} requests");
                continue;
            }

            if (sent.Length == 1)
            {
                forwarded++;
                // Exactly the endpoint's path and its two parameters, each once; the key (bracketed when not URL-safe)
                // is the key the edge validated and logged.
                var (path, query) = sent[0].Split('?') is [var p, var q] ? (p, q) : (sent[0], "");
                var parameters = query.Split('&').Select(kv => kv.Split('=', 2)).ToArray();
                var key = parameters.Where(kv => kv[0] == "key").Select(kv => Decoded(kv[1])).ToArray();
                if (path != $"/git-annex/{FaultEdge.Uuid}/v4/{logged.Text("Endpoint")}"
                    || !parameters.Select(kv => kv[0]).SequenceEqual(["key", "clientuuid"])
                    || key.Single() != logged.Text("Key"))
                {
                    failures.Add($"{target}: the backend got {sent[0]}, the edge validated key {logged.Text("Key")} for {logged.Text("Endpoint")}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(15)));
        // Canonical spellings were served (the property is not vacuous).
        Assert.True(forwarded >= 10, $"only {forwarded} requests reached the backend");
    }

    private static string Decoded(string value) =>
        AnnexEdge.Protocol.Base64Bracket.TryDecode(value, out var decoded) ? decoded : Uri.UnescapeDataString(value);

    /// <summary>A canonical request with one part replaced by the i-th variant of one list.</summary>
    private static string Canonical(int i)
    {
        string[] parts = ["/git-annex/", FaultEdge.Uuid, "v4/", "checkpresent", $"key={FaultEdge.Key}&clientuuid={FaultEdge.ClientUuid}"];
        var lists = new[] { Prefixes, Uuids, Versions, Endpoints, Queries };
        var list = 0;
        while (i >= lists[list].Length && list < lists.Length - 1)
        {
            i -= lists[list].Length;
            list++;
        }

        parts[list] = lists[list][i % lists[list].Length];
        return parts[0] + parts[1] + "/" + parts[2] + parts[3] + "?" + parts[4];
    }

    private static async Task<string[]> ReceivedAsync(WireMockServer backend)
    {
        // WireMock may log a request a moment after it answered it; an answered 200 came from it or from the edge.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (backend.LogEntries.Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        return backend.LogEntries.Select(e => e.RequestMessage.Path + e.RequestMessage.RawQuery).ToArray();
    }

    /// <summary>Sends the request target exactly as written (no client library normalises it); the answer's status.</summary>
    private static async Task<int> RawPostAsync(int port, string target, string authorization)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        var request = $"POST {target} HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var answer = await reader.ReadToEndAsync();
        return answer.Split("\r\n")[0].Split(' ') is [_, var code, ..] && int.TryParse(code, out var status) ? status : 0;
    }

    private static T Pick<T>(Random random, T[] items) => items[random.Next(items.Length)];
}
