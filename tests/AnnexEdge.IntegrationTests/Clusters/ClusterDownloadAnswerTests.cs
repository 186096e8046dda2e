using System.Net;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Clusters;

/// <summary>
/// What a cluster GET answers when no node serves the key: "not found" only when every node said it lacks it; when
/// some node could not be asked, the key may be there, so the answer is a gateway error, never a claim that it is
/// missing. Real <c>git annex p2phttp</c> nodes; the unreachable node is a closed port.
/// </summary>
public sealed class ClusterDownloadAnswerTests
{
    /// <summary>Version 8, starting with "ac", as <c>git annex initcluster</c> makes them.</summary>
    private const string ClusterUuid = "ac0d0a11-0000-8000-8000-000000000001";

    private const string EdgeUuid = "ed0d0a11-0000-4000-8000-000000000001";

    private const string DeadNodeUuid = "dead0a11-0000-4000-8000-000000000001";

    private const string ClientUuid = "c10d0a11-0000-4000-8000-000000000001";

    /// <summary>A key with its size (the nodes are asked for the content directly) and one without (asked checkpresent first).</summary>
    public static TheoryData<string> Keys => new()
    {
        "SHA256E-s1000--0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b.bin",
        "SHA256E--0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0c.bin",
    };

    [Theory]
    [MemberData(nameof(Keys))]
    public async Task A_key_every_node_lacks_is_not_found(string key)
    {
        await using var node = await P2pNode.StartAsync("lacking");
        await using var edge = await EdgeHost.StartAsync(ClusterConfig(node, withDeadNode: false));

        var (status, body) = await GetAsync(edge, key);

        Assert.True(status == HttpStatusCode.NotFound, $"{(int)status} {body}\n--- edge\n{edge.Logs}");
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public async Task A_key_is_not_called_missing_when_a_node_could_not_be_asked(string key)
    {
        await using var node = await P2pNode.StartAsync("lacking");
        await using var edge = await EdgeHost.StartAsync(ClusterConfig(node, withDeadNode: true));

        var (status, body) = await GetAsync(edge, key);

        Assert.True(status == HttpStatusCode.BadGateway, $"{(int)status} {body}\n--- edge\n{edge.Logs}");
        Assert.Contains("no node of the cluster could serve the key", body, StringComparison.Ordinal);
    }

    private static JsonObject ClusterConfig(P2pNode node, bool withDeadNode)
    {
        var config = EdgeHost.ConfigFor(node);
        config["Uuid"] = EdgeUuid;
        var nodes = new JsonArray((JsonNode)JsonValue.Create(node.Name));
        if (withDeadNode)
        {
            config["Repositories"]!.AsArray().Add(new JsonObject
            {
                ["Name"] = "dead",
                ["Uuid"] = DeadNodeUuid,
                ["Backends"] = new JsonArray((JsonNode)JsonValue.Create($"http://127.0.0.1:{FreePort.Next()}")),
            });
            nodes.Add((JsonNode)JsonValue.Create("dead"));
        }

        config["Clusters"] = new JsonArray(new JsonObject { ["Name"] = "answers", ["Uuid"] = ClusterUuid, ["Nodes"] = nodes });
        return config;
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(EdgeHost edge, string key)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.GetAsync(
            $"{edge.Url}/git-annex/{ClusterUuid}/v4/key/{key}?clientuuid={ClientUuid}", TestContext.Current.CancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }
}
