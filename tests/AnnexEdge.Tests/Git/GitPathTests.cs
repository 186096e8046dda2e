using AnnexEdge.Configuration;
using AnnexEdge.Git;
using AnnexEdge.Routing;
using AnnexEdge.Security;

namespace AnnexEdge.Tests.Git;

public sealed class GitPathTests
{
    [Theory]
    [InlineData("GET", "/proj/info/refs", "?service=git-upload-pack", "proj", "UploadPackAdvertisement")]
    [InlineData("GET", "/proj.git/info/refs", "?service=git-receive-pack", "proj.git", "ReceivePackAdvertisement")]
    [InlineData("POST", "/proj/git-upload-pack", "", "proj", "UploadPack")]
    [InlineData("POST", "/proj.git/git-receive-pack", "", "proj.git", "ReceivePack")]
    [InlineData("GET", "/proj/HEAD", "", "proj", "Head")]
    [InlineData("GET", "/proj.git/config", "", "proj.git", "Config")]
    public void Smart_http_paths_name_the_repository_and_the_service(string method, string path, string query, string name, string service)
    {
        var parsed = GitPath.Parse(method, path, query);

        Assert.NotNull(parsed);
        Assert.Equal(name, parsed.Name);
        Assert.Equal(service, parsed.Service.ToString());
        Assert.Equal(path[(name.Length + 1)..], parsed.Rest);
    }

    [Theory]
    [InlineData("GET", "/proj/info/refs", "")]                                  // dumb protocol
    [InlineData("GET", "/proj/info/refs", "?service=git-upload-archive")]       // not a smart-HTTP service
    [InlineData("GET", "/proj/info/refs", "?service=git-upload-pack&service=git-receive-pack")]
    [InlineData("GET", "/proj/objects/info/packs", "")]
    [InlineData("GET", "/proj/objects/12/3456789012345678901234567890123456789", "")]
    [InlineData("GET", "/proj/git-upload-pack", "")]                            // wrong method
    [InlineData("POST", "/proj/config", "")]
    [InlineData("GET", "/../info/refs", "?service=git-upload-pack")]
    [InlineData("GET", "/./config", "")]
    [InlineData("GET", "/a%2Fb/config", "")]                                    // an encoded slash stays in the segment
    [InlineData("GET", "/a/b/config", "")]
    [InlineData("GET", "/proj/config/", "")]
    [InlineData("GET", "/proj", "")]
    [InlineData("GET", "//config", "")]
    [InlineData("GET", "/pr oj/config", "")]
    [InlineData("GET", "", "")]
    public void Anything_else_is_not_a_git_request(string method, string path, string query)
    {
        Assert.Null(GitPath.Parse(method, path, query));
    }

    [Fact]
    public void Only_receive_pack_is_a_push()
    {
        Assert.True(GitPath.Parse("POST", "/p/git-receive-pack", "")!.IsPush);
        Assert.True(GitPath.Parse("GET", "/p/info/refs", "?service=git-receive-pack")!.IsPush);
        Assert.False(GitPath.Parse("POST", "/p/git-upload-pack", "")!.IsPush);
        Assert.False(GitPath.Parse("GET", "/p/config", "")!.IsPush);
    }

    [Theory]
    [InlineData("readonly", false, true, false)]
    [InlineData("appendonly", false, true, false)]
    [InlineData("appendonly", true, true, true)]
    [InlineData("full", false, true, true)]
    [InlineData("none", true, false, false)]
    public void Fetching_needs_readonly_and_pushing_full_or_appendonly_where_allowed(string access, bool appendOnlyMayPush, bool mayFetch, bool mayPush)
    {
        Assert.True(AccessLevels.TryParse(access, out var level));
        var fetch = GitPath.Parse("POST", "/p/git-upload-pack", "")!;
        var push = GitPath.Parse("POST", "/p/git-receive-pack", "")!;
        var advertise = GitPath.Parse("GET", "/p/info/refs", "?service=git-receive-pack")!;

        Assert.Equal(mayFetch, AccessPolicy.Permits(level, fetch.Action(appendOnlyMayPush), isUser: true, anonymousLocking: true));
        Assert.Equal(mayPush, AccessPolicy.Permits(level, push.Action(appendOnlyMayPush), isUser: true, anonymousLocking: true));
        Assert.Equal(mayPush, AccessPolicy.Permits(level, advertise.Action(appendOnlyMayPush), isUser: false, anonymousLocking: true));
    }

    [Fact]
    public void Catalog_finds_a_repository_by_name_and_by_name_dot_git_and_nothing_else()
    {
        var options = new AnnexEdgeOptions
        {
            Repositories =
            [
                new RepositoryOptions { Name = "proj", Uuid = "02e4e223-0b39-48fc-a031-e5a73d74ae92", Backends = ["http://h:1"], GitDirectory = "/srv/proj" },
                new RepositoryOptions { Name = "plain", Uuid = "5f0e8c1a-2b3c-4d5e-8f9a-0b1c2d3e4f5a", Backends = ["http://h:2"] },
            ],
        };
        var catalog = new RepositoryCatalog(options).Current.Git;

        Assert.Equal("/srv/proj", catalog.Find("proj")?.Directory);
        Assert.Equal("proj", catalog.Find("proj.git")?.Name);
        Assert.Equal("02e4e223-0b39-48fc-a031-e5a73d74ae92", catalog.Find("proj")?.AnnexUuid);
        Assert.Null(catalog.Find("plain"));       // no git source: no git
        Assert.Null(catalog.Find("other"));
        Assert.Null(catalog.Find("proj.git.git"));
        Assert.Null(catalog.Find("git-annex"));
    }
}
