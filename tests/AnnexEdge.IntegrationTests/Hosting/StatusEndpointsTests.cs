using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AnnexEdge.IntegrationTests.Hosting;

/// <summary>
/// <c>/_annexedge/status</c> of a whole in-process edge that is gateway to two clusters over three nodes (node1 with
/// two backends): the clusters section says what the gateway itself would do with each node.
/// </summary>
public sealed class StatusEndpointsTests : IAsyncLifetime
{
    private const string GatewayUuid = "9a9a9a9a-0000-4000-8000-000000000001";
    private const string ClusterUuid = "ac000000-0000-8000-8000-000000000001";
    private const string PairUuid = "ac000000-0000-8000-8000-000000000002";
    private static readonly string[] NodeUuids =
        ["11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002", "11111111-0000-4000-8000-000000000003"];

    // Backends that answer nothing: the status must never need them.
    // Backends that accept connections and never answer: the status is read from the edge's own state.
    private readonly RawHttpBackend[] _backends = Enumerable.Range(0, 4).Select(_ => new RawHttpBackend((_, _) => Task.FromResult(false))).ToArray();
    private EdgeHost _edge = null!;

    public async ValueTask InitializeAsync()
    {
        string Url(int i) => $"http://127.0.0.1:{_backends[i].Port}";
        JsonNode Node(int i, params int[] backends) => new JsonObject
        {
            ["Name"] = $"node{i + 1}",
            ["Uuid"] = NodeUuids[i],
            ["Backends"] = new JsonArray(backends.Select(b => (JsonNode)Url(b)).ToArray()),
        };
        _edge = await EdgeHost.StartAsync(new JsonObject
        {
            ["Uuid"] = GatewayUuid,
            ["Repositories"] = new JsonArray(Node(0, 0, 1), Node(1, 2), Node(2, 3)),
            ["Clusters"] = new JsonArray(
                new JsonObject { ["Name"] = "mycluster", ["Uuid"] = ClusterUuid, ["Nodes"] = new JsonArray("node1", "node2", "node3"), ["Copies"] = 2 },
                new JsonObject { ["Name"] = "pair", ["Uuid"] = PairUuid, ["Nodes"] = new JsonArray("node2", "node3") }),
            // No probes: a backend's health is only what the test sets.
            ["HealthChecks"] = new JsonObject { ["Enabled"] = false },
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _edge.DisposeAsync();
        foreach (var backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }

    private static JsonObject NodeStatus(int i, bool live = true, int inFlight = 0) => new()
    {
        ["name"] = $"node{i + 1}",
        ["uuid"] = NodeUuids[i],
        ["live"] = live,
        ["inFlight"] = inFlight,
    };

    private static JsonNode ClusterStatus(JsonNode status, string name) =>
        status["clusters"]!.AsArray().Single(c => (string?)c!["name"] == name)!;

    [Fact]
    public async Task Status_lists_each_cluster_with_its_copies_and_nodes_without_asking_any_backend()
    {
        var status = await _edge.StatusAsync();

        var expected = new JsonArray(
            new JsonObject { ["name"] = "mycluster", ["uuid"] = ClusterUuid, ["copies"] = 2, ["nodes"] = new JsonArray(NodeStatus(0), NodeStatus(1), NodeStatus(2)) },
            new JsonObject { ["name"] = "pair", ["uuid"] = PairUuid, ["copies"] = null, ["nodes"] = new JsonArray(NodeStatus(1), NodeStatus(2)) });
        Assert.Equal(expected.ToJsonString(), status["clusters"]!.ToJsonString());
        Assert.All(_backends, b => Assert.Equal(0, b.Connections));
    }

    [Fact]
    public async Task Status_keeps_every_repository_and_backend_field_beside_the_clusters()
    {
        var status = await _edge.StatusAsync();

        Assert.Equal(["repositories", "clusters", "managed"], status.AsObject().Select(p => p.Key));
        var node1 = status["repositories"]![0]!;
        Assert.Equal(["name", "uuid", "backends"], node1.AsObject().Select(p => p.Key));
        Assert.Equal(["id", "address", "active", "passive", "inFlight", "available"], node1["backends"]![0]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public async Task Status_shows_a_node_with_every_backend_out_of_rotation_as_not_live_though_yarp_still_offers_it()
    {
        _edge.TakeOutOfRotation("node2", 0);
        // node1 keeps one backend of its two.
        _edge.TakeOutOfRotation("node1", 1);

        var status = await _edge.StatusAsync();

        Assert.Equal(new JsonArray(NodeStatus(0), NodeStatus(1, live: false), NodeStatus(2)).ToJsonString(),
            ClusterStatus(status, "mycluster")["nodes"]!.ToJsonString());
        Assert.Equal(new JsonArray(NodeStatus(1, live: false), NodeStatus(2)).ToJsonString(),
            ClusterStatus(status, "pair")["nodes"]!.ToJsonString());
        // YARP offers every backend of an all-unhealthy repository again ("panic"); the gateway skips the node.
        var node2Backend = status["repositories"]!.AsArray().Single(r => (string?)r!["name"] == "node2")!["backends"]![0]!;
        Assert.Equal("Unhealthy", (string?)node2Backend["passive"]);
        Assert.True((bool)node2Backend["available"]!);
    }

    [Fact]
    public async Task Status_counts_the_transfers_the_gateway_has_in_flight_to_each_node()
    {
        // The gateway's transfers count on the node's backends, as YARP's own do (one count per backend).
        var load = _edge.Services.GetRequiredService<BackendLoad>();
        var node3 = _edge.Services.GetRequiredService<RepositoryCatalog>().Repositories.Single(r => r.Name == "node3");
        _edge.Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>().TryGetCluster(node3.YarpClusterId, out var yarpCluster);
        var backend = yarpCluster!.Destinations.Values.First();
        using var first = load.Enter(backend);
        using var second = load.Enter(backend);

        var status = await _edge.StatusAsync();

        Assert.Equal(new JsonArray(NodeStatus(0), NodeStatus(1), NodeStatus(2, inFlight: 2)).ToJsonString(),
            ClusterStatus(status, "mycluster")["nodes"]!.ToJsonString());
        Assert.Equal(new JsonArray(NodeStatus(1), NodeStatus(2, inFlight: 2)).ToJsonString(),
            ClusterStatus(status, "pair")["nodes"]!.ToJsonString());
    }
}
