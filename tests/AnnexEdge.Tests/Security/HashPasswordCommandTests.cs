using AnnexEdge.Security;

namespace AnnexEdge.Tests.Security;

public sealed class HashPasswordCommandTests
{
    private static (int ExitCode, string Output, string Error) Run(string input)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = HashPasswordCommand.Run(new StringReader(input), output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("s3cret")]
    [InlineData("s3cret\n")]
    [InlineData("s3cret\r\n")]
    public void Prints_a_hash_of_the_password_without_the_line_end(string input)
    {
        var (exit, output, _) = Run(input);

        Assert.Equal(0, exit);
        var hash = PasswordHash.Parse(output.Trim());
        Assert.True(hash.Verify("s3cret"));
        Assert.Equal(PasswordHash.DefaultIterations, hash.Iterations);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    public void Empty_input_exits_with_2(string input)
    {
        var (exit, output, error) = Run(input);
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Contains("no password", error);
    }
}
