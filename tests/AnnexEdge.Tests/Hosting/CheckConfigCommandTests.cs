using AnnexEdge.Configuration;
using AnnexEdge.Hosting;
using Spectre.Console;

namespace AnnexEdge.Tests.Hosting;

public sealed class CheckConfigCommandTests : IDisposable
{
    private const string UuidA = "aaaaaaaa-1111-4111-8111-111111111111";
    private const string UuidB = "bbbbbbbb-2222-4222-8222-222222222222";

    private readonly string _dir = Directory.CreateTempSubdirectory("check-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_directory_source_is_scanned_and_its_repositories_and_skipped_ones_are_said_with_or_without_a_terminal(bool terminal)
    {
        Repository("work", UuidA);
        Repository("taken", UuidB);
        Repository("z-twin", UuidA);
        var output = new StringWriter();
        var drawn = new StringWriter();

        var status = CheckConfigCommand.Run(Options(), output, Console(drawn, terminal));

        var text = output.ToString();
        Assert.Equal(0, status);
        Assert.Contains("AnnexEdge: configuration is valid (2 repositories, 1 of them from Directories, 2 skipped)", text);
        // One name is a configured repository's, one UUID is another found repository's.
        Assert.Contains($"AnnexEdge: skipped {Path.Combine(_dir, "taken")}:", text);
        Assert.Contains($"AnnexEdge: skipped {Path.Combine(_dir, "z-twin")}:", text);
        if (terminal)
        {
            // The progress of the scan was drawn, named by the directory.
            Assert.Contains(Path.GetFileName(_dir), drawn.ToString());
        }
        else
        {
            Assert.Empty(drawn.ToString());
        }
    }

    [Fact]
    public void A_directory_that_cannot_be_listed_is_said_and_fails_the_check()
    {
        var options = Options();
        options.Directories[0].Path = Path.Combine(_dir, "gone");
        var output = new StringWriter();

        var status = CheckConfigCommand.Run(options, output, Console(new StringWriter(), terminal: false));

        Assert.Equal(2, status);
        Assert.Contains($"AnnexEdge: directory cannot be listed: {Path.Combine(_dir, "gone")}:", output.ToString());
    }

    [Fact]
    public void Without_directories_it_says_the_configured_repositories()
    {
        var options = Options();
        options.Directories.Clear();
        var output = new StringWriter();

        Assert.Equal(0, CheckConfigCommand.Run(options, output, Console(new StringWriter(), terminal: true)));
        Assert.Equal("AnnexEdge: configuration is valid (1 repositories)", output.ToString().Trim());
    }

    private AnnexEdgeOptions Options() => new()
    {
        Repositories = [new RepositoryOptions { Name = "taken", Uuid = "cccccccc-3333-4333-8333-333333333333", Backends = ["http://127.0.0.1:1"] }],
        Directories = [new DirectoryOptions { Path = _dir, Backends = ["http://127.0.0.1:2"] }],
    };

    private static IAnsiConsole Console(StringWriter output, bool terminal) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Ansi = terminal ? AnsiSupport.Yes : AnsiSupport.No,
        Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.No,
        Out = new AnsiConsoleOutput(output),
    });

    private void Repository(string name, string uuid)
    {
        var git = Directory.CreateDirectory(Path.Combine(_dir, name, ".git")).FullName;
        File.WriteAllText(Path.Combine(git, "HEAD"), "ref: refs/heads/main\n");
        File.WriteAllText(Path.Combine(git, "config"), $"[annex]\n\tuuid = {uuid}\n");
    }
}
