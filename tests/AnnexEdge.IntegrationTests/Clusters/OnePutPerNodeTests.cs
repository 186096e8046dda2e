using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Clusters;

/// <summary>
/// A p2phttp node never answers a put of a key that it is still receiving from the same client (its transfer lock),
/// so the edge sends a node at most one put of a key at a time, whether it comes through the cluster or to the
/// node's own UUID, and still reports exactly what the node holds.
/// </summary>
public sealed class OnePutPerNodeTests
{
    private const string GatewayUuid = "9a7e0000-0000-4000-8000-00000000ed9f";
    private const string ClusterUuid = "ac000000-0000-8000-8000-0000000000c2";
    private const string NodeUuid = "0d000000-0000-4000-8000-0000000000b1";
    private const string ClientUuid = "c1e00000-0000-4000-8000-000000000002";
    private const string Key = "SHA256E-s11--0f343b0931126a20f133d67c2b018a3b0f343b0931126a20f133d67c2b018a3b.bin";

    [Fact]
    public async Task A_put_to_the_cluster_and_one_to_its_node_of_the_same_key_reach_the_node_one_after_the_other()
    {
        var ct = TestContext.Current.CancellationToken;
        var receiving = 0;
        var most = 0;
        var stored = false;
        await using var node = new RawHttpBackend(async (exchange, token) =>
        {
            string answer;
            if (exchange.Head.Contains("/put?", StringComparison.Ordinal))
            {
                most = Math.Max(most, Interlocked.Increment(ref receiving));
                await ReadBodyAsync(exchange, token);
                // The node takes a moment over each put, as a real one writes and commits.
                await Task.Delay(300, token);
                Interlocked.Decrement(ref receiving);
                stored = true;
                answer = """{"plusuuids":[],"stored":true}""";
            }
            else
            {
                answer = stored ? """{"present":true}""" : """{"present":false}""";
            }

            var body = Encoding.ASCII.GetBytes(answer);
            await exchange.Stream.WriteAsync(RawHttpBackend.Head("200 OK", "Content-Type: application/json", $"Content-Length: {body.Length}"), token);
            await exchange.Stream.WriteAsync(body, token);
            return true;
        });
        await using var edge = await EdgeHost.StartAsync(new JsonObject
        {
            ["Uuid"] = GatewayUuid,
            ["Repositories"] = new JsonArray(new JsonObject { ["Name"] = "node1", ["Uuid"] = NodeUuid, ["Backends"] = new JsonArray(node.Url) }),
            ["Clusters"] = new JsonArray(new JsonObject { ["Name"] = "c", ["Uuid"] = ClusterUuid, ["Nodes"] = new JsonArray("node1") }),
            ["HealthChecks"] = new JsonObject { ["Enabled"] = false },
        });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        var answers = await Task.WhenAll(PutAsync(http, edge, ClusterUuid, ct), PutAsync(http, edge, NodeUuid, ct));

        Assert.Equal(1, most);
        Assert.All(answers, a => Assert.Contains("\"stored\":true", a, StringComparison.Ordinal));
        Assert.Contains(NodeUuid, answers[0], StringComparison.Ordinal);
    }

    private static async Task<string> PutAsync(HttpClient http, EdgeHost edge, string uuid, CancellationToken ct)
    {
        using var body = new ByteArrayContent("hello world"u8.ToArray());
        body.Headers.TryAddWithoutValidation("X-git-annex-data-length", "11");
        using var response = await http.PostAsync(new Uri($"{edge.Url}/git-annex/{uuid}/v4/put?key={Key}&clientuuid={ClientUuid}"), body, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync(ct);
    }

    private static async Task ReadBodyAsync(RawHttpExchange exchange, CancellationToken token)
    {
        var length = exchange.Head.Split("\r\n").Select(l => l.Split(':', 2)).Where(f => f.Length == 2 && f[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            .Select(f => int.Parse(f[1].Trim(), System.Globalization.CultureInfo.InvariantCulture)).Single();
        var buffer = new byte[length];
        await exchange.Stream.ReadExactlyAsync(buffer, token);
    }
}
