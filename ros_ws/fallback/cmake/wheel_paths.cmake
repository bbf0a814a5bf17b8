# The ROS 2 wheels from PyPI export CMake targets whose include directories name the
# machine they were built on (/opt/python/cpXY-cpXY/include/pythonX.Y and that Python's
# numpy include folder). Point those at this Python's: rewrite the include directories of
# every imported target of the calling directory that names such a path. Called at the end
# of the stand-in interface packages' CMakeLists.txt; a no-op on a normal ROS install.
function(compass_nav_fix_wheel_include_paths)
  if(NOT Python3_EXECUTABLE)
    find_package(Python3 REQUIRED COMPONENTS Interpreter)
  endif()
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c
      "import sysconfig, numpy; print(sysconfig.get_paths()['include'] + ';' + numpy.get_include(), end='')"
    OUTPUT_VARIABLE _dirs RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "cannot ask ${Python3_EXECUTABLE} for its include folders")
  endif()
  list(GET _dirs 0 _py_include)
  list(GET _dirs 1 _np_include)
  get_directory_property(_targets IMPORTED_TARGETS)
  foreach(_t IN LISTS _targets)
    get_target_property(_inc ${_t} INTERFACE_INCLUDE_DIRECTORIES)
    if(_inc AND _inc MATCHES "/opt/python/")
      list(TRANSFORM _inc REPLACE "^/opt/python/[^;]*/numpy/_core/include$" "${_np_include}")
      list(TRANSFORM _inc REPLACE "^/opt/python/[^;]*/include/python3\\.[0-9]+$" "${_py_include}")
      set_target_properties(${_t} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_inc}")
    endif()
  endforeach()
endfunction()
