@echo off
rem Windows Setup for boot entry "win11" of pxelab lab "windows" (rendered by pxelab 0.1.0).
rem winpeshl.ini runs it: start WinPE, load the drivers, map the install tree's
rem share with the lab's credentials, run setup.exe from it. On failure it says
rem what failed and leaves this command prompt.
setlocal EnableExtensions
title pxelab: Windows Setup (win11)

echo pxelab: starting WinPE (wpeinit)
wpeinit
if errorlevel 1 (
    set "PXELAB_FAILED=wpeinit failed"
    goto failed
)

rem The network comes up in the background: retry the mapping, about a second
rem apart, at most 120 times.
echo pxelab: waiting for the network and \\10.36.0.1\win11
set PXELAB_TRY=0
:map
set /a PXELAB_TRY+=1
net use Z: \\10.36.0.1\win11 @PASSWORD@ /user:pxelab /persistent:no >nul 2>&1
if not errorlevel 1 goto mapped
if %PXELAB_TRY% GEQ 120 goto nomap
ping -n 2 -w 1000 127.0.0.1 >nul
goto map
:nomap
ipconfig
rem Once more with its output, so the reason is on the screen.
net use Z: \\10.36.0.1\win11 @PASSWORD@ /user:pxelab /persistent:no
set "PXELAB_FAILED=could not map \\10.36.0.1\win11 after %PXELAB_TRY% attempts"
goto failed

:mapped
echo pxelab: starting Windows Setup from \\10.36.0.1\win11
Z:\setup.exe /unattend:%SYSTEMROOT%\System32\autounattend.xml
if errorlevel 1 (
    set "PXELAB_FAILED=setup.exe exited with code %ERRORLEVEL%"
    goto failed
)
echo pxelab: Windows Setup has ended; type exit to reboot.
goto :eof

:failed
echo.
echo pxelab: %PXELAB_FAILED%
echo pxelab: this is a command prompt; type exit to reboot.
exit /b 1
