using AnnexEdge.Configuration;
using AnnexEdge.Directories;

namespace AnnexEdge.Tests.Directories;

public sealed class RepositoryDirectoriesTests : IDisposable
{
    private const string UuidA = "aaaaaaaa-1111-4111-8111-111111111111";
    private const string UuidB = "bbbbbbbb-2222-4222-8222-222222222222";
    private const string UuidC = "cccccccc-3333-4333-8333-333333333333";

    private readonly string _dir = Directory.CreateTempSubdirectory("dirs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Bare_and_non_bare_annex_repositories_are_found_by_name_without_git_suffix()
    {
        NonBare("work", UuidA);
        Bare("archive.git", UuidB);
        NonBare("plain-git", uuid: null);
        Directory.CreateDirectory(Path.Combine(_dir, "empty"));
        File.WriteAllText(Path.Combine(_dir, "notes.txt"), "");
        NonBare(".hidden", UuidC);

        var found = RepositoryDirectories.Scan(_dir);

        Assert.Equal(
            [new FoundRepository("archive", UuidB, Path.Combine(_dir, "archive.git")), new FoundRepository("work", UuidA, Path.Combine(_dir, "work"))],
            found);
    }

    [Fact]
    public void A_directory_with_a_config_file_but_no_HEAD_is_not_a_bare_repository()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "looks-bare")).FullName;
        File.WriteAllText(Path.Combine(dir, "config"), $"[annex]\n\tuuid = {UuidA}\n");

        Assert.Empty(RepositoryDirectories.Scan(_dir));
    }

    [Theory]
    [InlineData("[core]\n\tbare = false\n[annex]\n\tuuid = " + UuidA + "\n\tversion = 10\n", UuidA)]
    [InlineData("[Annex]\n  UUID=\"" + UuidA + "\" # set by git annex init\n", UuidA)]
    [InlineData("[annex]\n\tuuid = " + UuidA + "\n[annex]\n\tuuid = " + UuidB + "\n", UuidB)]
    [InlineData("[remote \"origin\"]\n\tannex-uuid = " + UuidA + "\n\tuuid = " + UuidB + "\n", null)]
    [InlineData("[core]\n\tuuid = " + UuidA + "\n", null)]
    [InlineData("", null)]
    public void Annex_uuid_is_read_from_the_annex_section_only(string config, string? expected)
    {
        Assert.Equal(expected, RepositoryDirectories.AnnexUuid(config.Split('\n')));
    }

    [Fact]
    public void A_rescan_reads_no_config_file_that_is_unchanged()
    {
        NonBare("work", UuidA);
        Bare("archive.git", UuidB);
        var (cache, reads) = CountingCache();

        var first = ScanWith(cache);
        var second = ScanWith(cache);

        Assert.Equal(2, reads.Count);
        Assert.Equal(first, second);
        Assert.Equal(["archive", "work"], second.Select(r => r.Name));
    }

    [Fact]
    public void A_rescan_of_unchanged_repositories_hands_back_the_same_objects_and_allocates_next_to_nothing_for_them()
    {
        const int count = 500;
        for (var i = 0; i < count; i++)
        {
            NonBare($"repo{i:000}", $"aaaaaaaa-1111-4111-8111-{i:000000000000}");
        }

        var cache = new DirectoryScanCache();
        var first = ScanWith(cache);
        ScanWith(cache);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var again = ScanWith(cache);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(count, again.Count);
        Assert.All(first.Zip(again), pair => Assert.Same(pair.First, pair.Second));
        // The result list and the listing's own buffers; a scan that made a path, a name or a FileInfo per repository
        // allocated about 520 bytes for each (~260 KB here).
        Assert.True(allocated < 32 * 1024, $"{allocated} bytes allocated by a rescan of {count} unchanged repositories");
    }

    [Fact]
    public void A_rescan_reads_again_a_config_file_whose_write_time_or_length_changed()
    {
        NonBare("reinit", UuidA);
        NonBare("new", uuid: null);
        var (cache, reads) = CountingCache();
        Assert.Equal(UuidA, Assert.Single(ScanWith(cache)).Uuid);

        // `git annex reinit`: a config of the same length, written later; `git annex init` after `git init`: a longer one.
        var reinit = Path.Combine(_dir, "reinit", ".git", "config");
        var written = File.GetLastWriteTimeUtc(reinit);
        NonBare("reinit", UuidB);
        File.SetLastWriteTimeUtc(reinit, written.AddSeconds(1));
        NonBare("new", UuidC);

        Assert.Equal([("new", UuidC), ("reinit", UuidB)], ScanWith(cache).Select(r => (r.Name, r.Uuid)));
        Assert.Equal(4, reads.Count);
    }

    [Fact]
    public void A_repository_removed_between_scans_is_forgotten_by_the_cache()
    {
        NonBare("work", UuidA);
        var config = Path.Combine(_dir, "work", ".git", "config");
        var written = File.GetLastWriteTimeUtc(config);
        var (cache, _) = CountingCache();
        ScanWith(cache);
        Directory.Delete(Path.Combine(_dir, "work"), recursive: true);
        Assert.Empty(ScanWith(cache));

        // Another repository restored under the same name with the same write time and length (tar, rsync -t).
        NonBare("work", UuidB);
        File.SetLastWriteTimeUtc(config, written);

        Assert.Equal(UuidB, Assert.Single(ScanWith(cache)).Uuid);
    }

    [Fact]
    public void Found_repositories_are_added_after_the_configured_ones_with_the_directory_backends()
    {
        var configured = Options();
        var found = new[] { new FoundRepository("b", UuidB, "/srv/b") };

        var (effective, served, skipped) = RepositoryDirectories.Merge(configured, [found]);

        Assert.Equal(["a", "b"], effective.Repositories.Select(r => r.Name));
        var b = effective.Repositories[1];
        Assert.Equal(["http://127.0.0.1:9000"], b.Backends);
        Assert.Equal("/srv/b", b.GitDirectory);
        Assert.Equal(8, b.Jobs);
        Assert.Equal(found, served);
        Assert.Empty(skipped);
        Assert.Single(configured.Repositories);
    }

    [Fact]
    public void A_taken_name_a_served_uuid_or_a_reserved_name_is_skipped_with_a_reason_and_the_rest_is_served()
    {
        var found = new[]
        {
            new FoundRepository("A", UuidC, "/srv/A"),          // a configured repository's name, any case
            new FoundRepository("dup", UuidA, "/srv/dup"),      // a configured repository's UUID
            new FoundRepository("metrics", UuidC, "/srv/metrics"),
            new FoundRepository("bad name", UuidC, "/srv/bad name"),
            new FoundRepository("olduuid", "not-a-uuid", "/srv/olduuid"),
            new FoundRepository("c", UuidC, "/srv/c"),
            new FoundRepository("c2", UuidC, "/srv/c2"),        // the same UUID as c, found after it
        };

        var (effective, served, skipped) = RepositoryDirectories.Merge(Options(), [found]);

        Assert.Equal(["a", "c"], effective.Repositories.Select(r => r.Name));
        Assert.Equal("c", Assert.Single(served).Name);
        Assert.Equal(6, skipped.Count);
        Assert.Contains(skipped, s => s.StartsWith("/srv/c2:", StringComparison.Ordinal) && s.Contains("already served", StringComparison.Ordinal));
        Assert.Contains(skipped, s => s.StartsWith("/srv/A:", StringComparison.Ordinal) && s.Contains("already served", StringComparison.Ordinal));
    }

    [Fact]
    public void Directories_are_validated()
    {
        var options = Options();
        options.Directories.Add(new DirectoryOptions { Path = Path.Combine(_dir, "missing"), Backends = [], Jobs = 1 });
        options.Directories.Add(new DirectoryOptions { Path = "relative", Backends = ["notaurl"] });

        var errors = AnnexEdgeOptionsValidator.Errors(options);

        Assert.Contains(errors, e => e.StartsWith("AnnexEdge:Directories[1]: Path", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("AnnexEdge:Directories[1]: Backends is empty", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("AnnexEdge:Directories[1]: Jobs", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("AnnexEdge:Directories[2]: Path", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("AnnexEdge:Directories[2]: Backends[0]", StringComparison.Ordinal));
    }

    [Fact]
    public void A_directory_alone_is_a_valid_configuration()
    {
        var options = new AnnexEdgeOptions { Directories = [new DirectoryOptions { Path = _dir, Backends = ["http://127.0.0.1:9000"] }] };

        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    private AnnexEdgeOptions Options() => new()
    {
        Repositories = [new RepositoryOptions { Name = "a", Uuid = UuidA, Backends = ["http://127.0.0.1:9001"] }],
        Directories = [new DirectoryOptions { Path = _dir, Backends = ["http://127.0.0.1:9000"], Jobs = 8 }],
    };

    private static (DirectoryScanCache Cache, List<string> Reads) CountingCache()
    {
        var reads = new List<string>();
        return (new DirectoryScanCache(path =>
        {
            reads.Add(path);
            return File.ReadLines(path);
        }), reads);
    }

    private IReadOnlyList<FoundRepository> ScanWith(DirectoryScanCache cache) =>
        Assert.Single(RepositoryDirectories.ScanAll(
            [new DirectoryOptions { Path = _dir }], (_, e) => throw new InvalidOperationException("cannot list " + _dir, e), cache: cache));

    private void NonBare(string name, string? uuid)
    {
        var git = Directory.CreateDirectory(Path.Combine(_dir, name, ".git")).FullName;
        File.WriteAllText(Path.Combine(git, "HEAD"), "ref: refs/heads/main\n");
        File.WriteAllText(Path.Combine(git, "config"), "[core]\n\tbare = false\n" + (uuid is null ? "" : $"[annex]\n\tuuid = {uuid}\n"));
    }

    private void Bare(string name, string uuid)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;
        File.WriteAllText(Path.Combine(dir, "HEAD"), "ref: refs/heads/main\n");
        File.WriteAllText(Path.Combine(dir, "config"), $"[core]\n\tbare = true\n[annex]\n\tuuid = {uuid}\n");
    }
}
