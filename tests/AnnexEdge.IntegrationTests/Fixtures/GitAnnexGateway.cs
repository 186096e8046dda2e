using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// Another site of a <see cref="ClusterLab"/>'s cluster served by git-annex's own gateway: a clone of the lab's gateway
/// repository, extended to the cluster with <c>git annex extendcluster</c>, whose nodes are plain repositories it
/// reaches as local remotes, served by <c>git annex p2phttp --debug</c> (its log names the nodes each cluster request
/// connects to, and the <c>bypass</c> it came with). The lab's gateway repository is extended to it in turn, as the
/// tips/clusters page of git-annex does, so the lab's client knows its nodes. Its UUIDs and URL are fixed before it
/// starts, so they can go into the edge's <c>Peers</c> before the lab's edge starts.
/// </summary>
public sealed partial class GitAnnexGateway : IAsyncDisposable
{
    private readonly TempDirectory _dir = new("annex-gateway");
    private readonly int _port = FreePort.Next();
    private BackgroundProcess? _server;

    /// <param name="name">The gateway's name: its remote's name at the lab's gateway, and the edge's peer name.</param>
    /// <param name="nodeNames">Its nodes' names (remote names at the gateway).</param>
    public GitAnnexGateway(string name, params string[] nodeNames)
    {
        Name = name;
        NodeUuids = nodeNames.ToDictionary(n => n, _ => Guid.NewGuid().ToString());
    }

    public string Name { get; }

    public string Uuid { get; } = Guid.NewGuid().ToString();

    /// <summary>Node name to UUID.</summary>
    public IReadOnlyDictionary<string, string> NodeUuids { get; }

    public string Url => $"http://127.0.0.1:{_port}";

    public string RepositoryPath => _dir.Combine(Name);

    /// <summary>The p2phttp's debug log.</summary>
    public string Logs => _server?.Output ?? "";

    /// <summary>
    /// Each cluster request's fan-out, from the debug log: the remotes the gateway connected to, and the UUIDs in the
    /// request's <c>bypass</c> (git-annex logs <c>connecting to ["n1","n2"] bypass [UUID "u1",UUID "u2"]</c>).
    /// </summary>
    public IReadOnlyList<(string[] Remotes, string[] Bypass)> ClusterConnections =>
        Logs.Split('\n')
            .Select(l => ConnectingLine().Match(l))
            .Where(m => m.Success)
            .Select(m => (Quoted(m.Groups["remotes"].Value), Quoted(m.Groups["bypass"].Value)))
            .ToArray();

    /// <summary>This site as a peer in the edge's <c>Peers</c>: a git-annex gateway, so with its <c>Nodes</c>.</summary>
    public JsonObject PeerConfig(string clusterName, double linkCost = 10) => new()
    {
        [nameof(AnnexEdge.Configuration.PeerOptions.Name)] = Name,
        [nameof(AnnexEdge.Configuration.PeerOptions.Uuid)] = Uuid,
        [nameof(AnnexEdge.Configuration.PeerOptions.Backends)] = new JsonArray(Url),
        [nameof(AnnexEdge.Configuration.PeerOptions.LinkCost)] = linkCost,
        [nameof(AnnexEdge.Configuration.PeerOptions.Clusters)] = new JsonArray(clusterName),
        [nameof(AnnexEdge.Configuration.PeerOptions.Nodes)] = new JsonArray(NodeUuids.Values.Select(u => (JsonNode)JsonValue.Create(u)!).ToArray()),
    };

    /// <summary>
    /// Makes the gateway and its nodes, extends the lab's cluster to it and it to the lab's gateway, and starts its
    /// p2phttp. The commands are those docs/multisite.md gives an operator.
    /// </summary>
    public async Task StartAsync(ClusterLab lab)
    {
        var path = RepositoryPath;
        foreach (var (node, uuid) in NodeUuids)
        {
            var nodePath = NodePath(node);
            (await ProcessRunner.RunAsync("git", ["init", "-q", "-b", "main", nodePath])).EnsureSuccess("git init node");
            (await Git(nodePath, "config", "annex.uuid", uuid)).EnsureSuccess("git config annex.uuid");
            (await Git(nodePath, "annex", "init", "-q", node)).EnsureSuccess("git annex init node");
        }

        await lab.ExtendToGatewayAsync(Name, path, Uuid, Url, NodeUuids.Keys.Select(n => (n, NodePath(n))));
        _server = new BackgroundProcess(
            "git", ["annex", "p2phttp", "--bind", "127.0.0.1", "--port", _port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--jobs", "4", "--clusterjobs", "2", "--wideopen", "--debug"], path);
        await Eventually.Async(
            async () =>
            {
                try
                {
                    var (status, _) = await P2pHttp.PostAsync($"{Url}/git-annex/{Uuid}/v4/gettimestamp?clientuuid={ClusterLab.ClientUuid}", null, TestContext.Current.CancellationToken);
                    return status == 200;
                }
                catch (HttpRequestException)
                {
                    return _server.HasExited ? throw new InvalidOperationException("the gateway's p2phttp exited:\n" + Logs) : false;
                }
            },
            TimeSpan.FromSeconds(30),
            "the git-annex gateway serves",
            () => Logs);
    }

    /// <summary>Kills its p2phttp, as a site going away would.</summary>
    public void Stop() => _server?.Kill();

    /// <summary>The repository of one of its nodes.</summary>
    public string NodePath(string node) => _dir.Combine(node);

    /// <summary>Whether the node's repository holds the key's content (asks git-annex, not the network).</summary>
    public async Task<bool> NodeHasKeyAsync(string node, string key)
    {
        var result = await Git(NodePath(node), "annex", "contentlocation", key);
        return result.ExitCode == 0 && result.Output.Trim().Length > 0;
    }

    public async ValueTask DisposeAsync()
    {
        _server?.Dispose();
        await Task.Yield();
        _dir.Dispose();
    }

    private static Task<ProcessRunner.Result> Git(string directory, params string[] args) => ProcessRunner.RunAsync("git", args, directory);

    private static string[] Quoted(string list) => QuotedValue().Matches(list).Select(m => m.Groups[1].Value).ToArray();

    [GeneratedRegex(@"connecting to \[(?<remotes>[^\]]*)\] bypass \[(?<bypass>[^\]]*)\]")]
    private static partial Regex ConnectingLine();

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex QuotedValue();
}
