package io.meshgate.gateway.testing;

import io.meshgate.testing.DebianPackages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * A real headless Chromium (Debian's {@code chromium} and {@code chromium-driver}, installed on
 * first use), driven by Selenium through the machine's own chromedriver: nothing is downloaded
 * at run time.
 */
public final class HeadlessChromium implements AutoCloseable {
  private static final String BROWSER = "/usr/bin/chromium";
  private static final String DRIVER = "/usr/bin/chromedriver";

  private final ChromeDriver driver;

  private HeadlessChromium(ChromeDriver driver) {
    this.driver = driver;
  }

  /** Starts a browser, installing the packages if the machine lacks them. */
  public static HeadlessChromium start() {
    DebianPackages.ensure("chromium", List.of(BROWSER, "--version"));
    DebianPackages.ensure("chromium-driver", List.of(DRIVER, "--version"));
    ChromeOptions options = new ChromeOptions().setBinary(BROWSER).addArguments(
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--window-size=1200,900", "--no-first-run", "--disable-extensions");
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(Path.of(DRIVER).toFile()).usingAnyFreePort().build();
    return new HeadlessChromium(new ChromeDriver(service, options));
  }

  /** The Selenium driver. */
  public ChromeDriver driver() {
    return driver;
  }

  /** Saves what the page shows now as a PNG under {@code target/screenshots/}. */
  public Path screenshot(String name) throws Exception {
    Path dir = Path.of("target", "screenshots");
    Files.createDirectories(dir);
    Path file = dir.resolve(name + ".png");
    Files.write(file, ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES));
    return file;
  }

  @Override
  public void close() {
    driver.quit();
  }
}
