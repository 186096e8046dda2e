using System.Security.Cryptography;
using AnnexEdge.IntegrationTests.Fixtures;
using Serilog.Events;

namespace AnnexEdge.IntegrationTests.Clusters;

/// <summary>
/// Datasets are thousands of small files: a real client with <c>-J4</c> copies 500 of them through the edge to one
/// node and to the cluster, three rounds, and no request of the edge takes long. The gateway used to put right after
/// its own putoffset of the same key, which p2phttp sometimes leaves unanswered (its transfer lock still held); the
/// gateway then waited out its timeout (minutes) and the node lost a worker for good.
/// </summary>
public sealed class ManySmallFilesTests(ITestOutputHelper output)
{
    private const int Files = 500;
    private const int FileSize = 8 * 1024;
    private static readonly TimeSpan SlowRequest = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Copies_of_500_small_files_with_four_jobs_to_a_node_and_to_the_cluster_never_wait_on_a_request()
    {
        // Nodes with --jobs 8, as docs/locking.md advises: a p2phttp put (10.20250416) holds one worker for its P2P
        // connection and takes a second for the transfer, so the four puts of a -J4 client to a --jobs 4 node (one
        // worker is the web server's) can each hold one and wait for another for good (seen: four puts to one node
        // unanswered at once, no error in its log, and the node answering nothing afterwards).
        await using var lab = await ClusterLab.StartAsync(withClient: true, jobs: 8);
        var client = lab.Client;
        await AddSmallFilesAsync(client);

        for (var round = 1; round <= 3; round++)
        {
            var started = DateTime.UtcNow;
            (await client.GitAsync("annex", "copy", "-J4", "--to", "origin-" + ClusterLab.ClusterName, "small")).EnsureSuccess($"round {round}: copy -J4 --to the cluster");
            Assert.All(lab.Nodes, n => Assert.True(ObjectsOn(n) == Files, $"round {round}: {n.Name} holds {ObjectsOn(n)} of {Files}\n{Warnings(lab)}"));
            EmptyNodes(lab);
            var cluster = DateTime.UtcNow - started;

            (await client.GitAsync("annex", "copy", "-J4", "--to", "origin-node2", "small")).EnsureSuccess($"round {round}: copy -J4 --to origin-node2");
            Assert.True(ObjectsOn(lab.Nodes[1]) == Files, $"round {round}: node2 holds {ObjectsOn(lab.Nodes[1])} of {Files}\n{Warnings(lab)}");
            EmptyNodes(lab);
            output.WriteLine($"round {round}: cluster copy {cluster.TotalSeconds:0.0} s, node copy {(DateTime.UtcNow - started - cluster).TotalSeconds:0.0} s");
        }

        var slow = lab.Edge.Events.All.Where(e => e.IsRequest() && Elapsed(e) > SlowRequest)
            .Select(e => $"{e.Text("RequestMethod")} {e.Text("RequestPath")} {e.Number("StatusCode")} in {Elapsed(e)}").ToArray();
        Assert.True(slow.Length == 0, "slow requests:\n" + string.Join("\n", slow) + "\n" + lab.Logs);
        Assert.DoesNotContain(lab.Edge.Events.All, e => e.Level >= LogEventLevel.Warning);
    }

    /// <summary>What the edge warned about (why it left a node out), and the nodes' logs.</summary>
    private static string Warnings(ClusterLab lab) =>
        string.Join("\n", lab.Edge.Events.All.Where(e => e.Level >= LogEventLevel.Warning).Take(50).Select(e => e.RenderMessage(System.Globalization.CultureInfo.InvariantCulture)))
        + "\n" + lab.Logs;

    /// <summary>Empties every node behind the client's back: its next copy asks each node (checkpresent) and sends all again.</summary>
    private static void EmptyNodes(ClusterLab lab)
    {
        foreach (var objects in lab.Nodes.Select(n => Path.Combine(n.RepositoryPath, ".git", "annex", "objects")).Where(Directory.Exists))
        {
            Directory.Delete(objects, recursive: true);
        }
    }

    /// <summary>How many objects the node's repository holds.</summary>
    private static int ObjectsOn(P2pNode node)
    {
        var objects = Path.Combine(node.RepositoryPath, ".git", "annex", "objects");
        return Directory.Exists(objects) ? Directory.EnumerateFiles(objects, "*", SearchOption.AllDirectories).Count() : 0;
    }

    private static TimeSpan Elapsed(LogEvent e) =>
        e.Properties.TryGetValue("Elapsed", out var value) && value is ScalarValue { Value: double ms } ? TimeSpan.FromMilliseconds(ms) : TimeSpan.Zero;

    private static async Task AddSmallFilesAsync(AnnexClient client)
    {
        var dir = Path.Combine(client.RepositoryPath, "small");
        Directory.CreateDirectory(dir);
        var buffer = new byte[FileSize];
        for (var i = 0; i < Files; i++)
        {
            RandomNumberGenerator.Fill(buffer);
            await File.WriteAllBytesAsync(Path.Combine(dir, $"f{i:D4}.bin"), buffer);
        }

        (await client.GitAsync("annex", "add", "-q", "small")).EnsureSuccess("git annex add");
        (await client.GitAsync("commit", "-q", "-m", "small files")).EnsureSuccess("git commit");
    }
}
