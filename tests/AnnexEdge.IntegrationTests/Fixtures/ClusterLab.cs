using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// A git-annex cluster with the edge as its gateway: three <see cref="P2pNode"/>s (or <see cref="NodeCount"/>), a gateway repository made with
/// git-annex's own commands (<c>initcluster</c>, <c>annex-cluster-node</c> remotes, <c>updatecluster</c>, as
/// <c>/work/shared/tools/mini-lab.sh</c> does), an edge serving the gateway's UUID, the cluster UUID and the nodes
/// (node1 cheapest, so downloads start there), and optionally a client clone of the gateway reaching its annex
/// through the edge. Use it as a class fixture, or start one per test with <see cref="StartAsync"/>.
/// </summary>
public sealed class ClusterLab : IAsyncLifetime
{
    public const string ClusterName = "mycluster";

    /// <summary>Cost of node1 in the edge's config: below the others' 100, so a download from the cluster starts there.</summary>
    public const double Node1Cost = 50;

    /// <summary>The clientuuid of HTTP-level requests (a client repository the nodes have never seen).</summary>
    public const string ClientUuid = "c1c1c1c1-0000-4000-8000-00000000c11e";

    private readonly TempDirectory _gatewayDir = new("gateway");
    private readonly List<EdgeHost> _extraEdges = [];

    public ClusterLab()
    {
    }

    /// <summary>Whether to make the client clone (the real git-annex client); HTTP-level tests do without.</summary>
    public bool WithClient { get; init; } = true;

    /// <summary>Options for the nodes' p2phttp (default <c>--wideopen</c>); <c>--debug</c> makes them log each P2P message.</summary>
    public string[] NodeArgs { get; init; } = [];

    /// <summary>The nodes' <c>--jobs</c> (and the edge's <c>Jobs</c> for them).</summary>
    public int Jobs { get; init; } = 4;

    /// <summary>How many nodes the edge serves (node1 first); fewer make a lighter lab where the count does not matter.</summary>
    public int NodeCount { get; init; } = 3;

    /// <summary>A change to the main edge's config before it starts.</summary>
    public Action<JsonObject>? ChangeEdgeConfig { get; init; }

    public IReadOnlyList<P2pNode> Nodes { get; private set; } = [];

    public string GatewayPath => _gatewayDir.Combine("gateway");

    /// <summary>The gateway repository's annex.uuid: the edge's <c>AnnexEdge:Uuid</c>.</summary>
    public string GatewayUuid { get; private set; } = "";

    /// <summary>The cluster's UUID, as <c>git annex initcluster</c> made it.</summary>
    public string ClusterUuid { get; private set; } = "";

    public EdgeHost Edge { get; private set; } = null!;

    public AnnexClient Client => _client ?? throw new InvalidOperationException("this lab was started without a client");

    private AnnexClient? _client;

    /// <summary>Talks to the edge; no client-side timeout (tests pass their cancellation token).</summary>
    public HttpClient Http { get; } = new() { Timeout = Timeout.InfiniteTimeSpan };

    public static async Task<ClusterLab> StartAsync(
        bool withClient, Action<JsonObject>? changeEdgeConfig = null, string[]? nodeArgs = null, int jobs = 4, int nodeCount = 3)
    {
        var lab = new ClusterLab { WithClient = withClient, ChangeEdgeConfig = changeEdgeConfig, NodeArgs = nodeArgs ?? [], Jobs = jobs, NodeCount = nodeCount };
        try
        {
            await lab.InitializeAsync();
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    public async ValueTask InitializeAsync()
    {
        Nodes = await Task.WhenAll(Enumerable.Range(1, NodeCount).Select(i => P2pNode.StartAsync("node" + i, Jobs, NodeArgs)));
        await MakeGatewayAsync();
        Edge = await EdgeHost.StartAsync(EdgeConfig(ChangeEdgeConfig));
        if (WithClient)
        {
            _client = await AnnexClient.CloneAsync(GatewayPath, Edge.AnnexUrl);
            // As mini-lab.sh: the client learns the gateway's git-annex branch (cluster and proxy logs) and its UUID.
            await _client.GitAsync("annex", "sync", "-q", "--no-content");
        }
    }

    /// <summary>The edge's <c>AnnexEdge</c> section for this cluster; tests change it for extra edges.</summary>
    public JsonObject EdgeConfig(Action<JsonObject>? change = null)
    {
        var config = EdgeHost.ConfigFor([.. Nodes]);
        config["Repositories"]![0]!["Cost"] = Node1Cost;
        config["Uuid"] = GatewayUuid;
        config["Clusters"] = new JsonArray(new JsonObject
        {
            ["Name"] = ClusterName,
            ["Uuid"] = ClusterUuid,
            [nameof(AnnexEdge.Configuration.ClusterOptions.Nodes)] = new JsonArray(Nodes.Select(n => (JsonNode)JsonValue.Create(n.Name)!).ToArray()),
        });
        change?.Invoke(config);
        return config;
    }

    /// <summary>Another edge process over the same nodes and cluster, stopped with the lab.</summary>
    public async Task<EdgeHost> StartEdgeAsync(Action<JsonObject>? change = null)
    {
        var edge = await EdgeHost.StartAsync(EdgeConfig(change));
        _extraEdges.Add(edge);
        return edge;
    }

    public P2pNode NodeByUuid(string uuid) => Nodes.Single(n => n.Uuid == uuid);

    /// <summary>
    /// Makes another site's gateway repository of the cluster at <paramref name="path"/>, as docs/multisite.md tells an
    /// operator: a clone of this lab's gateway repository with the other gateway's UUID, extended to the cluster with
    /// <c>extendcluster</c>, whose cluster nodes are <paramref name="nodes"/> (repositories it reaches by path); and
    /// extends this lab's gateway repository to it in turn, so that the lab's clients know its nodes as remotes
    /// (<c>origin-NAME-NODE</c>) once they fetch. Whatever serves it there (git-annex's gateway, or another AnnexEdge
    /// with this UUID) is reached at <paramref name="url"/>.
    /// </summary>
    public async Task ExtendToGatewayAsync(string name, string path, string uuid, string url, IEnumerable<(string Name, string Path)> nodes)
    {
        (await ProcessRunner.RunAsync("git", ["clone", "-q", GatewayPath, path])).EnsureSuccess("git clone the lab's gateway");
        (await GitIn(path, "config", "annex.uuid", uuid)).EnsureSuccess("git config annex.uuid");
        (await GitIn(path, "annex", "init", "-q", name)).EnsureSuccess("git annex init");
        (await GitIn(path, "remote", "rename", "origin", "edge")).EnsureSuccess("git remote rename");

        // The lab's gateway is reached through the edge; git-annex lists a cluster's gateways among the remotes it
        // proxies only for a remote reached over P2P.
        (await GitIn(path, "config", "remote.edge.annexUrl", Edge.AnnexUrl)).EnsureSuccess("git config annexUrl");
        (await GitIn(path, "fetch", "-q", "edge")).EnsureSuccess("git fetch edge");
        (await GitIn(path, "annex", "extendcluster", "edge", ClusterName)).EnsureSuccess("git annex extendcluster edge");
        foreach (var (node, nodePath) in nodes)
        {
            (await GitIn(path, "remote", "add", node, nodePath)).EnsureSuccess("git remote add node");
            (await GitIn(path, "config", $"remote.{node}.annex-cluster-node", ClusterName)).EnsureSuccess("git config annex-cluster-node");
            (await GitIn(path, "fetch", "-q", node)).EnsureSuccess("git fetch node");
        }

        (await GitIn(path, "annex", "updatecluster")).EnsureSuccess("git annex updatecluster");
        (await GitIn(GatewayPath, "remote", "add", name, path)).EnsureSuccess("git remote add the gateway");
        (await GitIn(GatewayPath, "config", $"remote.{name}.annexUrl", $"annex+{url}/git-annex/")).EnsureSuccess("git config annexUrl");
        (await GitIn(GatewayPath, "fetch", "-q", name)).EnsureSuccess("git fetch the gateway");
        (await GitIn(GatewayPath, "annex", "extendcluster", name, ClusterName)).EnsureSuccess("git annex extendcluster at the lab");

        static Task<ProcessRunner.Result> GitIn(string directory, params string[] args) => ProcessRunner.RunAsync("git", args, directory);
    }

    /// <summary>The URL of a p2phttp request to a UUID served by the edge.</summary>
    public static string RequestUrl(EdgeHost edge, string uuid, string version, string endpoint, string query = "") =>
        $"{edge.Url}/git-annex/{uuid}/{version}/{endpoint}?clientuuid={ClientUuid}{query}";

    /// <summary>POSTs a bodiless request and returns the JSON answer, failing on any status but 200.</summary>
    public async Task<JsonElement> PostAsync(EdgeHost edge, string uuid, string version, string endpoint, string query, CancellationToken ct)
    {
        using var response = await Http.PostAsync(RequestUrl(edge, uuid, version, endpoint, query), null, ct);
        return await JsonAnswerAsync(response, ct);
    }

    /// <summary>Puts content to a UUID through the edge (the body is streamed as given) and returns the JSON answer.</summary>
    public async Task<JsonElement> PutAsync(EdgeHost edge, string uuid, string version, string key, long length, HttpContent body, CancellationToken ct)
    {
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        body.Headers.Add("X-git-annex-data-length", length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await Http.PostAsync(RequestUrl(edge, uuid, version, "put", "&key=" + Uri.EscapeDataString(key)), body, ct);
        return await JsonAnswerAsync(response, ct);
    }

    public Task<JsonElement> PutAsync(EdgeHost edge, string uuid, string version, TestObject content, CancellationToken ct) =>
        PutAsync(edge, uuid, version, content.Key, content.Length, new ByteArrayContent(content.Bytes), ct);

    /// <summary>Which nodes hold the key's content, by asking each repository (not the network).</summary>
    public async Task<string[]> HoldersAsync(string key)
    {
        var has = await Task.WhenAll(Nodes.Select(n => n.HasKeyAsync(key)));
        return Nodes.Where((_, i) => has[i]).Select(n => n.Uuid).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// Waits until the edge's health checks have the node's first backend in rotation (no check says unhealthy) or out
    /// of it. Not the status's "available": YARP offers every backend of an all-unhealthy node again ("panic").
    /// </summary>
    public async Task WaitForNodeAsync(P2pNode node, bool inRotation, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            using var status = JsonDocument.Parse(await Http.GetStringAsync(Edge.Url + "/_annexedge/status", ct));
            var backend = status.RootElement.GetProperty("repositories").EnumerateArray()
                .Single(r => r.GetProperty("uuid").GetString() == node.Uuid).GetProperty("backends")[0];
            var healthy = backend.GetProperty("active").GetString() != "Unhealthy" && backend.GetProperty("passive").GetString() != "Unhealthy";
            if (healthy == inRotation)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the edge did not take {node.Name} {(inRotation ? "into" : "out of")} rotation: {backend}");
            }

            await Task.Delay(200, ct);
        }
    }

    /// <summary>The main edge's status entry for the cluster: its copies and, per node, whether the gateway uses it.</summary>
    public async Task<JsonNode> ClusterStatusAsync(CancellationToken ct)
    {
        var status = JsonNode.Parse(await Http.GetStringAsync(Edge.Url + "/_annexedge/status", ct))!;
        return status["clusters"]!.AsArray().Single(c => (string?)c!["uuid"] == ClusterUuid)!;
    }

    /// <summary>Logs of the edge and the nodes, for failure messages.</summary>
    public string Logs => $"--- edge\n{Edge?.Logs}\n" + string.Join("\n", Nodes.Select(n => $"--- {n.Name}\n{n.Logs}"));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        foreach (var edge in _extraEdges)
        {
            await edge.DisposeAsync();
        }

        if (Edge is not null)
        {
            await Edge.DisposeAsync();
        }

        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }

        _gatewayDir.Dispose();
    }

    private static async Task<JsonElement> JsonAnswerAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{(int)response.StatusCode} from {response.RequestMessage?.RequestUri}: {body}");
        }

        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private async Task MakeGatewayAsync()
    {
        var path = GatewayPath;
        (await ProcessRunner.RunAsync("git", ["init", "-q", "-b", "main", path])).EnsureSuccess("git init gateway");
        (await Git("annex", "init", "-q", "gateway")).EnsureSuccess("git annex init gateway");
        (await Git("annex", "initcluster", ClusterName)).EnsureSuccess("git annex initcluster");
        foreach (var node in Nodes)
        {
            (await Git("remote", "add", node.Name, node.RepositoryPath)).EnsureSuccess("git remote add");
            (await Git("config", $"remote.{node.Name}.annex-cluster-node", ClusterName)).EnsureSuccess("git config annex-cluster-node");
            (await Git("fetch", "-q", node.Name)).EnsureSuccess("git fetch node");
        }

        (await Git("annex", "updatecluster")).EnsureSuccess("git annex updatecluster");
        GatewayUuid = (await Git("config", "annex.uuid")).EnsureSuccess("git config annex.uuid").Output.Trim();

        // cluster.log lines: "<timestamp> <cluster uuid> <node uuid>..."
        var log = (await Git("show", "git-annex:cluster.log")).EnsureSuccess("git show git-annex:cluster.log").Output;
        var fields = log.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        ClusterUuid = fields[1];
        if (!ClusterUuid.StartsWith("ac", StringComparison.Ordinal) || Nodes.Any(n => !fields.Contains(n.Uuid)))
        {
            throw new InvalidOperationException($"cluster.log does not name the cluster and its {Nodes.Count} nodes:\n{log}");
        }

        Task<ProcessRunner.Result> Git(params string[] args) => ProcessRunner.RunAsync("git", args, path);
    }
}

/// <summary>Content with its SHA256 key, for HTTP-level puts (p2phttp checks that a put's body hashes to its key).</summary>
public sealed record TestObject(string Key, byte[] Bytes)
{
    public long Length => Bytes.Length;

    public static TestObject Random(int length)
    {
        var bytes = new byte[length];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return new TestObject(KeyFor(bytes.Length, System.Security.Cryptography.SHA256.HashData(bytes)), bytes);
    }

    public static string KeyFor(long length, byte[] sha256) => $"SHA256E-s{length}--{Convert.ToHexStringLower(sha256)}.bin";
}
