using System.Diagnostics;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Git;

/// <summary>Runs alone: it measures what the whole test process allocates while a push goes through the edge in it.</summary>
[CollectionDefinition(nameof(GitLargePushTests), DisableParallelization = true)]
[Collection(nameof(GitLargePushTests))]
public sealed class GitLargePushTests
{
    [Fact]
    public async Task A_large_push_streams_through_the_edge()
    {
        const int size = 200 * 1024 * 1024;
        await using var node = await P2pNode.StartAsync("node1");
        await using var edge = await EdgeHost.StartAsync(GitPushTests.Config(node));
        using var dir = new TempDirectory("bigpush");
        var clone = dir.Combine("clone");
        (await GitCloneTests.Git(dir.Path, "clone", "-q", GitPushTests.UrlAs(edge, "writer"), clone)).EnsureSuccess("clone as writer");
        await WriteRandomFileAsync(Path.Combine(clone, "big.bin"), size);
        // In git itself, not in the annex: the whole file goes into the pack.
        (await GitCloneTests.Git(clone, "-c", "annex.largefiles=nothing", "add", "big.bin")).EnsureSuccess("git add");
        (await GitCloneTests.Git(clone, "commit", "-q", "-m", "big")).EnsureSuccess("git commit");

        GC.Collect();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var workingSetBefore = Process.GetCurrentProcess().WorkingSet64;
        var peak = workingSetBefore;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                using var self = Process.GetCurrentProcess();
                peak = Math.Max(peak, self.WorkingSet64);
                await Task.Delay(50, CancellationToken.None);
            }
        }, CancellationToken.None);

        (await GitCloneTests.Git(clone, "push", "origin", "HEAD:refs/heads/big")).EnsureSuccess("push of a 200 MiB pack");
        await sampling.CancelAsync();
        await sampler;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        var head = (await GitCloneTests.Git(clone, "rev-parse", "HEAD")).EnsureSuccess("rev-parse").Output.Trim();
        Assert.Equal(head, (await GitCloneTests.Git(node.RepositoryPath, "rev-parse", "refs/heads/big")).EnsureSuccess("pushed ref").Output.Trim());
        await edge.RequestEventAsync("POST", "/node1.git/git-receive-pack", 200);
        const long bound = size / 4;
        Assert.True(allocated < bound, $"the edge process allocated {allocated / (1024 * 1024)} MiB for a {size / (1024 * 1024)} MiB push");
        Assert.True(peak - workingSetBefore < bound, $"the edge process's working set grew by {(peak - workingSetBefore) / (1024 * 1024)} MiB for a {size / (1024 * 1024)} MiB push");
    }

    private static async Task WriteRandomFileAsync(string path, long size)
    {
        await using var file = File.Create(path);
        var buffer = new byte[1024 * 1024];
        for (var left = size; left > 0; left -= buffer.Length)
        {
            System.Security.Cryptography.RandomNumberGenerator.Fill(buffer);
            await file.WriteAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)), TestContext.Current.CancellationToken);
        }
    }
}
